#!/usr/bin/env node
// qfarm external runner: runs a job directory (agent/command_device.h) with ONNX Runtime's CPU
// execution provider through onnxruntime-node, one intra-op thread, default graph optimizations.
//   run.js JOB_DIR     run the job, write outputs/<i>.npy and result.json
//   run.js --describe  print what this device is
'use strict';
const fs = require('fs');
const path = require('path');

const DTYPES = {  // .npy descr ↔ ONNX Runtime tensor type ↔ typed array
  '|i1': ['int8', Int8Array], '|u1': ['uint8', Uint8Array], '<i2': ['int16', Int16Array],
  '<u2': ['uint16', Uint16Array], '<i4': ['int32', Int32Array], '<i8': ['int64', BigInt64Array],
  '<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array],
};

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = b.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)[1]).split(',').map(s => s.trim()).filter(s => s).map(Number);
  const [type, Arr] = DTYPES[descr] || [];
  if (!type) throw new Error(`${file}: unsupported dtype ${descr}`);
  const data = b.subarray(start + hlen);
  const copy = new Uint8Array(data.length);
  copy.set(data);
  return { type, shape, data: new Arr(copy.buffer) };
}

function writeNpy(file, tensor) {
  const entry = Object.entries(DTYPES).find(([, [t]]) => t === tensor.type);
  if (!entry) throw new Error(`cannot write ${tensor.type}`);
  const dims = tensor.dims.length === 1 ? `${tensor.dims[0]},` : tensor.dims.join(', ');
  let header = `{'descr': '${entry[0]}', 'fortran_order': False, 'shape': (${dims}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const bytes = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), bytes]));
}

async function main() {
  const ort = require('onnxruntime-node');
  const version = require('onnxruntime-node/package.json').version;
  if (process.argv[2] === '--describe') {
    console.log(JSON.stringify({
      name: `onnxruntime-node ${version}`, declared_profile: 'ort',
      description: `ONNX Runtime ${version} CPU execution provider (MLAS), one intra-op thread`,
    }));
    return;
  }
  const dir = process.argv[2];
  const job = JSON.parse(fs.readFileSync(path.join(dir, 'job.json'), 'utf8'));
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'),
    { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const feeds = {};
  for (const input of job.inputs) {
    if (!session.inputNames.includes(input.name)) continue;  // initializer overrides are not inputs here
    const t = readNpy(path.join(dir, input.file));
    feeds[input.name] = new ort.Tensor(t.type, t.data, t.shape);
  }
  const timings = [];
  let results;
  for (let i = 0; i < (job.warmup || 0) + (job.runs || 1); i++) {
    const t0 = process.hrtime.bigint();
    results = await session.run(feeds);
    if (i >= (job.warmup || 0)) timings.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const outputs = [];
  session.outputNames.forEach((name, i) => {
    const file = `outputs/${i}.npy`;
    writeNpy(path.join(dir, file), results[name]);
    outputs.push({ name, file });
  });
  fs.writeFileSync(path.join(dir, 'result.json'), JSON.stringify({ outputs, timings_ms: timings }));
}

main().catch(e => { process.stderr.write(`qfarm-ort-runner: ${String(e.message).split('\n')[0]}\n`); process.exit(2); });
