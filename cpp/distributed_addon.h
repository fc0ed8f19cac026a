// The native functions of data-parallel training (distributed_addon.cc), exported by addon.cc through
// exports.def.
#pragma once
#include <napi.h>

namespace kn {

void DistInit(const Napi::CallbackInfo& info);
Napi::Value DistInfo(const Napi::CallbackInfo& info);
void DistAverage(const Napi::CallbackInfo& info);
void DistBroadcast(const Napi::CallbackInfo& info);
void DistAbort(const Napi::CallbackInfo& info);

}  // namespace kn
