// Recording ops into Programs: native.record(device?) .. native.endRecord() -> Program { run(), dispose() }.
#pragma once
#include <napi.h>

namespace kn {

// record(device?) and endRecord(), exported through exports.def.
void Record(const Napi::CallbackInfo& info);
Napi::Value EndRecord(const Napi::CallbackInfo& info);
// Defines the Program class (the class of endRecord()'s results) for this environment and returns it.
Napi::Function define_program(Napi::Env env);

}  // namespace kn
