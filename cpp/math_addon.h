// The native functions of the general tensor math (math_addon.cc), exported by addon.cc through exports.def.
#pragma once
#include <napi.h>

namespace kn {

void MathUnary(const Napi::CallbackInfo& info);
void MathBinary(const Napi::CallbackInfo& info);
void MathSelect(const Napi::CallbackInfo& info);
void StridedCopy(const Napi::CallbackInfo& info);
void Reduce(const Napi::CallbackInfo& info);
void Scan(const Napi::CallbackInfo& info);
void GatherAxis(const Napi::CallbackInfo& info);
void BatchMatmul(const Napi::CallbackInfo& info);
void Topk(const Napi::CallbackInfo& info);
void Resize2d(const Napi::CallbackInfo& info);
void Iota(const Napi::CallbackInfo& info);
void RandomGauss(const Napi::CallbackInfo& info);

}  // namespace kn
