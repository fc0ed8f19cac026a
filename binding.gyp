{
  "targets": [
    {
      "target_name": "kernelnet",
      "sources": [
        "cpp/addon.cc", "cpp/args.cc", "cpp/tensor.cc", "cpp/threadpool.cc", "cpp/cpu_gemm.cc",
        "cpp/cpu_memory.cc", "cpp/cpu_conv.cc", "cpp/cpu_pool.cc", "cpp/cpu_dense.cc", "cpp/cpu_random.cc",
        "cpp/cpu_loss.cc", "cpp/cpu_optim.cc", "cpp/program.cc", "cpp/recording.cc",
        "cpp/cpu_tensor.cc", "cpp/cpu_batchnorm.cc", "cpp/cpu_elementwise.cc", "cpp/env.cc", "cpp/cpu_math.cc",
        "cpp/math_addon.cc", "cpp/collective_mpi.cc", "cpp/distributed_addon.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "cpp"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
                  "KERNELNET_VERSION=<!(node -p \"JSON.stringify(require('./package.json').version)\")"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fno-trapping-math", "-fexceptions"],
      "ldflags": ["-pthread"],
      "libraries": ["-ldl"]
    }
  ]
}
