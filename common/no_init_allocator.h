// std::allocator whose value-initialization (vector::resize) leaves elements uninitialized: for
// buffers that are written completely before they are read (tensor storage the kernels fill,
// activation panels packed on every call), where zero-filling first is pure memory traffic.
// Its blocks start on a 64-byte boundary: a cache line, so a kernel's rows of 64 bytes each sit
// in one line when their stride is a multiple of 64 (an AMX tile row that straddles two lines
// loads at a third of the speed, kernels/qgemm/qgemm_amx.cc).
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace qfarm {

template <typename T>
struct NoInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = NoInitAllocator<U>;
  };
  static constexpr std::align_val_t kAlign{64};
  NoInitAllocator() = default;
  template <typename U>
  NoInitAllocator(const NoInitAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  // Unsized: clang without -fsized-deallocation (the fuzz build) declares no sized aligned delete.
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlign); }
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

}  // namespace qfarm
