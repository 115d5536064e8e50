// std::allocator whose value-initialization (vector::resize) leaves elements uninitialized: for
// buffers that are written completely before they are read (tensor storage the kernels fill,
// activation panels packed on every call), where zero-filling first is pure memory traffic.
#pragma once

#include <memory>
#include <utility>

namespace qfarm {

template <typename T>
struct NoInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = NoInitAllocator<U>;
  };
  NoInitAllocator() = default;
  template <typename U>
  NoInitAllocator(const NoInitAllocator<U>&) noexcept {}
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
