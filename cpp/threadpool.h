// A small persistent thread pool for the CPU backend.
//
// parallel_for(n, fn) splits [0, n) into contiguous ranges, one per thread (the calling thread takes the
// first), and returns when all are done. Jobs from different callers (several Node environments, e.g.
// worker_threads) are serialised by a mutex, so the pool never oversubscribes the cores.
#pragma once
#include <cstddef>
#include <functional>

namespace kn {

// Number of threads the CPU backend uses (KERNELNET_NUM_THREADS, else the hardware concurrency).
int num_threads();
void set_num_threads(int n);

// fn(begin, end, thread_index) is called on disjoint ranges covering [0, n). thread_index < num_threads().
void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t, int)>& fn);

}  // namespace kn
