// Which binary loads, which backend it chose and why, and what each backend would run on: one JSON line.
// Exit status 2 when no binary loads (ERR_KERNELNET_LOAD: a rebuild may help), 3 on any other load error.
//   node dist/bench/load-check.js
try {
  const { native, nativeBinary } = await import('../lib/core/native.js');
  console.log(JSON.stringify({ node: process.version, binary: nativeBinary(), backend: native.backend(), backends: native.backends() }));
} catch (e) {
  const err = e as Error & { code?: string };
  console.log(JSON.stringify({ node: process.version, error: { code: err.code ?? null, message: err.message } }));
  process.exitCode = err.code === 'ERR_KERNELNET_LOAD' ? 2 : 3;
}
