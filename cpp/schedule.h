// Learning-rate schedules, Keras 3's (keras/src/optimizers/schedules/learning_rate_schedule.py), as one
// function of the optimizer's iteration count that both backends evaluate: the CPU inline, the GPU in a
// one-thread kernel that writes the rate into device memory before the optimizer's update reads it. A
// recorded training step then replays unchanged while its rate follows the schedule, and the host never waits
// for the device to learn the rate. lib/engine/schedules.ts holds the classes; the same function answers the
// host's questions (optimizer.learningRate, the logs' lr) through native.scheduleValue.
#pragma once
#include <cmath>
#include <cstdint>

#include "hd.h"

namespace kn {

struct Schedule {
  enum class Kind : int32_t { kExponential = 0, kPiecewise = 1, kCosine = 2 };
  static constexpr int kMaxBoundaries = 32;
  Kind kind = Kind::kExponential;
  float initial = 0, decay_steps = 1, decay_rate = 1;  // exponential; cosine uses initial and decay_steps
  bool staircase = false;
  float alpha = 0, warmup_target = 0, warmup_steps = 0;  // cosine
  bool warmup = false;                                   // cosine: warmup_target given
  int32_t pieces = 0;                                    // piecewise: boundaries; values has pieces + 1
  int32_t boundaries[kMaxBoundaries] = {};
  float values[kMaxBoundaries + 1] = {};
};

// The rate at `step` (the optimizer's iterations before this update: 0 for the first), in float32 as Keras
// computes it for a float32 initial rate.
KN_HD float schedule_value(const Schedule& s, int32_t step) {
  switch (s.kind) {
    case Schedule::Kind::kExponential: {
      float p = static_cast<float>(step) / s.decay_steps;
      if (s.staircase) p = floorf(p);
      return s.initial * powf(s.decay_rate, p);
    }
    case Schedule::Kind::kPiecewise: {
      // values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i], ...
      int i = 0;
      while (i < s.pieces && step > s.boundaries[i]) ++i;
      return s.values[i];
    }
    default: {  // cosine decay, after an optional linear warm-up
      const float pi = 3.14159265358979323846f;
      float t = static_cast<float>(step);
      float from = s.initial;
      if (s.warmup) {
        t = fminf(t, s.decay_steps + s.warmup_steps);
        if (t < s.warmup_steps) return (s.warmup_target - s.initial) * (t / s.warmup_steps) + s.initial;
        t -= s.warmup_steps;
        from = s.warmup_target;
      } else {
        t = fminf(t, s.decay_steps);
      }
      const float cosine = 0.5f * (1.0f + cosf(pi * (t / s.decay_steps)));
      return from * ((1.0f - s.alpha) * cosine + s.alpha);
    }
  }
}

}  // namespace kn
