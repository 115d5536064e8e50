#!/usr/bin/env python3
"""Regenerates the seed corpora under tests/fuzz/corpus/ (docs/fuzzing.md).

Needs a built farmctl (for the built-in models and their .pb inputs) and protoc. Seeds only:
whatever `scripts/fuzz.sh long` merges into the corpus directories is kept as it is.
Usage: python3 tests/fuzz/make_seeds.py [path/to/farmctl]
"""
import os, struct, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
FARMCTL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "cli", "farmctl")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy(descr, shape, payload, version=1):
    shape_txt = "(" + "".join(f"{d}," for d in shape) + ")" if len(shape) != 1 else f"({shape[0]},)"
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}"
    hlen_size = 2 if version == 1 else 4
    pad = (-(10 + (hlen_size - 2) + len(header) + 1)) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    size = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header + payload


def encode(message, text):
    return subprocess.run(["protoc", f"--encode=qfarm.v1.{message}", "-I", os.path.join(ROOT, "proto"),
                           os.path.join(ROOT, "proto", "farm.proto")],
                          input=text.encode(), capture_output=True, check=True).stdout


def main():
    # onnx_fuzz, tensor_file_fuzz: the built-in models and their inputs.
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([FARMCTL, "models", "--export", tmp], check=True, stdout=subprocess.DEVNULL)
        for f in sorted(os.listdir(tmp)):
            data = open(os.path.join(tmp, f), "rb").read()
            if f.endswith(".onnx"):
                put("onnx_fuzz", f, data)
            elif f.endswith(".pb") and len(data) <= 4096:
                put("tensor_file_fuzz", "pb_" + f, b"\x01" + data)

    # tensor_file_fuzz: .npy files (even first byte), several types and versions.
    put("tensor_file_fuzz", "npy_i8_2x3", b"\x00" + npy("|i1", (2, 3), bytes([0, 1, 2, 0xFF, 0x80, 0x7F])))
    put("tensor_file_fuzz", "npy_u8_scalar", b"\x00" + npy("|u1", (), b"\x05"))
    put("tensor_file_fuzz", "npy_f4_4", b"\x00" + npy("<f4", (4,), struct.pack("<4f", 0.5, -1, 3.25, 0)))
    put("tensor_file_fuzz", "npy_f2_2", b"\x00" + npy("<f2", (2,), b"\x00\x3c\x00\xc0"))
    put("tensor_file_fuzz", "npy_i32_v2", b"\x00" + npy("<i4", (1, 2), struct.pack("<2i", 7, -7), version=2))
    put("tensor_file_fuzz", "npy_f8_empty", b"\x00" + npy("<f8", (0, 3), b""))

    # run_spec_fuzz: run files.
    put("run_spec_fuzz", "minimal.yaml", "models: [mlp.onnx]\ndevices: [host-avx2]\n")
    put("run_spec_fuzz", "full.yaml", """name: nightly
priority: 2
repeats: 2
timeout_s: 600
max_attempts: 3
warmup_runs: 3
timed_runs: 30
warmup_s: 0.2
measure_s: 1.0
models: [mlp.onnx, builtin:mobilenet_block, {name: big, path: models/big.onnx}]
devices: [host-avx2, {tags: [emulated]}]
profiles: [declared, ort, "rounding=half_away,acc_bits=32"]
inputs: [{seed: 1}, {files: [x.pb, scale.npy]}]
""")
    put("run_spec_fuzz", "block.yaml", """name: block-style
models:
  - builtin:mlp
  - name: q
    path: q.onnx
devices:
  - name: agent/host
  - tags: [arm, emulated]
profiles:
  - tflite,acc_overflow=saturate
inputs:
  - seed: 42
  - files: [a.npy]
""")

    # profile_fuzz: names, texts, overrides.
    for name, text in [("tflite", "tflite"), ("ort", "ort"), ("override", "tflite,acc_overflow=saturate"),
                       ("text", "multiplier_from=float32,requant=fixed_single,mult_bits=24,rounding=half_up"),
                       ("avx2", "avx2-u8s8"),
                       ("all_keys", "acc_bits=16,acc_overflow=wrap,pair_sat16=on,zp_fold=fold_after,bias=before,"
                                    "multiplier_from=float64,requant=float64,mult_bits=15,rounding=floor")]:
        put("profile_fuzz", name, text)

    # rpc_fuzz: handler byte + request (rpc_fuzz.cc lists the handlers).
    fp = 'devices { device: "cpu" cpu_model: "x" isa_flags: "avx2" declared_profile: "tflite" }'
    put("rpc_fuzz", "0_register", b"\x00" + encode("RegisterAgentRequest",
                                                   f'agent: "fa" version: "1" {fp} running_job_ids: 3'))
    put("rpc_fuzz", "1_heartbeat", b"\x01" + encode("HeartbeatRequest", 'agent_id: "fa" running_job_ids: [1, 2]'))
    put("rpc_fuzz", "2_lease", b"\x02" + encode("LeaseJobRequest", 'agent_id: "fa" device: "cpu"'))
    result = ('job_id: 1 attempt: 1 status: OK model_sha256: "ab" profile_text: "tflite" agent_id: "fa" '
              'device_name: "cpu" outputs { value: "y" elements: 4 bit_exact: true sqnr_db: 50 } '
              'latency { p50_ms: 1.5 samples_ms: [1, 2] }')
    put("rpc_fuzz", "3_ingest", b"\x03" + encode("Result", result))
    r1 = encode("Result", result)
    r2 = encode("Result", 'job_id: 2 attempt: 1 status: DIVERGENT agent_id: "fa" device_name: "npu"')
    put("rpc_fuzz", "4_ingest_batch", b"\x04" + bytes([len(r1)]) + r1 + bytes([len(r2)]) + r2)
    yaml = "models: [m.onnx]\\ndevices: [fa/cpu]\\nprofiles: [tflite]\\n"
    put("rpc_fuzz", "5_submit", b"\x05" + encode("SubmitRunRequest",
                                                f'yaml: "{yaml}" blobs {{ name: "m.onnx" data: "abc" }}'))
    put("rpc_fuzz", "6_get_run", b"\x06" + encode("GetRunRequest", "run_id: 1"))
    put("rpc_fuzz", "7_cancel", b"\x07" + encode("CancelRunRequest", "run_id: 1"))
    for kind, args in [("runs", '{\\"limit\\": 5}'), ("results", '{\\"run\\": 1}'),
                       ("history", '{\\"model\\": \\"m\\", \\"device\\": \\"fa/cpu\\", \\"metric\\": \\"p50_ms\\"}'),
                       ("series", '{\\"model\\": \\"m\\", \\"device\\": \\"fa/cpu\\"}'),
                       ("regressions", '{\\"run\\": 1}')]:
        put("rpc_fuzz", f"8_query_{kind}", b"\x08" + encode("QueryRequest", f'kind: "{kind}" args_json: "{args}"'))
    put("rpc_fuzz", "9_fetch", b"\x09" + encode("FetchBlobRequest", 'sha256: "00" offset: 0'))
    put("rpc_fuzz", "10_sweep", b"\x0a")


if __name__ == "__main__":
    main()
