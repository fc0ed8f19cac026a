// Recording ops into Programs: native.record(device?) .. native.endRecord() -> Program { run(), dispose() }.
#pragma once
#include <napi.h>

namespace kn {

// Adds record, endRecord and the Program class to the addon's exports.
void init_recording(Napi::Env env, Napi::Object exports);

}  // namespace kn
