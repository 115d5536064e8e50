# Wiring for tests that run built programs.

# --- farmctl command-line tests ------------------------------------------------------------------
target_compile_definitions(cli_test PRIVATE QFARM_FARMCTL="$<TARGET_FILE:farmctl>")
add_dependencies(cli_test farmctl)
