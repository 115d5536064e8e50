# Wiring for tests that run built programs.

# --- farmctl command-line tests ------------------------------------------------------------------
target_compile_definitions(cli_test PRIVATE QFARM_FARMCTL="$<TARGET_FILE:farmctl>")
add_dependencies(cli_test farmctl)

# --- emulator on aarch64 under QEMU (cross_arch_test) --------------------------------------------
# The portable core is cross-built at build time; the test compares qfarm-golden's output bytes
# on x86 with the aarch64 build's under qemu-aarch64-static.
find_program(QFARM_AARCH64_CXX aarch64-linux-gnu-g++)
find_program(QFARM_QEMU_AARCH64 qemu-aarch64-static)
set(aarch64_dir ${PROJECT_BINARY_DIR}/aarch64)
if(QFARM_AARCH64_CXX)
  file(GLOB_RECURSE portable_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/model/*.cc
       ${PROJECT_SOURCE_DIR}/model/*.h ${PROJECT_SOURCE_DIR}/reference/*.cc
       ${PROJECT_SOURCE_DIR}/reference/*.h ${PROJECT_SOURCE_DIR}/tools/*.cc
       ${PROJECT_SOURCE_DIR}/common/*.h)
  # The build's own recipe too: a changed CMake file, toolchain or script rebuilds.
  foreach(dir "" common/ model/ reference/ kernels/ tools/)
    list(APPEND portable_srcs ${PROJECT_SOURCE_DIR}/${dir}CMakeLists.txt)
  endforeach()
  list(APPEND portable_srcs
       ${PROJECT_SOURCE_DIR}/cmake/aarch64-toolchain.cmake
       ${PROJECT_SOURCE_DIR}/scripts/cross_build_aarch64.sh)
  list(FILTER portable_srcs EXCLUDE REGEX "/model/onnx/")
  file(GLOB_RECURSE kernel_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/kernels/*
       ${PROJECT_SOURCE_DIR}/tests/unit/kernels_*_test.cc)
  add_custom_command(OUTPUT ${aarch64_dir}/tools/qfarm-golden ${aarch64_dir}/kernels_tests
                            ${aarch64_dir}/tools/qfarm-runner
                     COMMAND ${PROJECT_SOURCE_DIR}/scripts/cross_build_aarch64.sh ${aarch64_dir}
                             qfarm-golden kernels_tests qfarm-runner
                     DEPENDS ${portable_srcs} ${kernel_srcs}
                     COMMENT "Cross-building the emulator and the kernel testers for aarch64")
  add_custom_target(qfarm_golden_aarch64 ALL DEPENDS ${aarch64_dir}/tools/qfarm-golden
                                                     ${aarch64_dir}/kernels_tests
                                                     ${aarch64_dir}/tools/qfarm-runner)
  add_dependencies(cli_test qfarm_golden_aarch64)
  add_dependencies(cross_arch_test qfarm_golden_aarch64)
  # The ARM kernel paths (NEON, NEON dotprod) and the scalar path, tested under QEMU.
  if(QFARM_QEMU_AARCH64)
    add_test(NAME kernels_aarch64_qemu
             COMMAND ${QFARM_QEMU_AARCH64} -cpu max ${aarch64_dir}/kernels_tests)
    set_tests_properties(kernels_aarch64_qemu PROPERTIES TIMEOUT 900)
  endif()
endif()
add_dependencies(cross_arch_test qfarm-golden)
target_compile_definitions(cross_arch_test PRIVATE
  QFARM_GOLDEN_NATIVE="$<TARGET_FILE:qfarm-golden>"
  QFARM_GOLDEN_AARCH64="${aarch64_dir}/tools/qfarm-golden"
  QFARM_QEMU_AARCH64="${QFARM_QEMU_AARCH64}")
