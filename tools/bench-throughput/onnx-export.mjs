// Exports an unseg generator (generator.json + tfjs weights) to an ONNX model, NCHW, so that
// onnxruntime can run the same network. Used only by onnx-generator.mjs to weigh that inference
// path (issue 6); the product does not depend on it. Only what the U-Net needs is written: a
// minimal protobuf encoder for the ONNX messages below, opset 13.
//
// Field numbers follow onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto,
// TensorProto, ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail, parseToolArgs } from '../lib/args.mjs';

const enc = new TextEncoder();

function varint(n) {
  const out = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n; // int64 two's complement, as protobuf writes negative int64s
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

/** One protobuf message as a list of byte chunks. */
class Msg {
  constructor() {
    this.chunks = [];
  }
  tag(field, wire) {
    this.chunks.push(Uint8Array.from(varint((field << 3) | wire)));
  }
  int(field, n) {
    this.tag(field, 0);
    this.chunks.push(Uint8Array.from(varint(n)));
    return this;
  }
  float(field, x) {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, x, true);
    this.chunks.push(b);
    return this;
  }
  bytes(field, data) {
    this.tag(field, 2);
    this.chunks.push(Uint8Array.from(varint(data.length)), data);
    return this;
  }
  str(field, s) {
    return this.bytes(field, enc.encode(s));
  }
  msg(field, m) {
    return this.bytes(field, m.toBytes());
  }
  toBytes() {
    const n = this.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

const FLOAT = 1;
const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 };

function attr(name, value) {
  const a = new Msg().str(1, name);
  if (typeof value === 'string') a.str(4, value).int(20, ATTR.STRING);
  else if (Array.isArray(value)) {
    for (const v of value) a.int(8, v);
    a.int(20, ATTR.INTS);
  } else if (Number.isInteger(value)) a.int(3, value).int(20, ATTR.INT);
  else a.float(2, value).int(20, ATTR.FLOAT);
  return a;
}

function tensor(name, dims, data) {
  const t = new Msg();
  for (const d of dims) t.int(1, d);
  t.int(2, data instanceof BigInt64Array ? INT64 : FLOAT).str(8, name);
  return t.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function valueInfo(name, dims) {
  const shape = new Msg();
  for (const d of dims) shape.msg(1, typeof d === 'string' ? new Msg().str(2, d) : new Msg().int(1, d));
  const tensorType = new Msg().int(1, FLOAT).msg(2, shape);
  return new Msg().str(1, name).msg(2, new Msg().msg(1, tensorType));
}

/** HWIO (tfjs) -> OIHW (ONNX). */
function toOIHW(values, [kh, kw, ci, co]) {
  const out = new Float32Array(values.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = values[((y * kw + x) * ci + i) * co + o];
  return out;
}

/**
 * @param config generator.json's content
 * @param weights Map name -> { shape, values: Float32Array } (tfjs HWIO convolution kernels)
 * @returns the ONNX model bytes; inputs `x` [N,3,H,W] in [0,1] and `prompt` [N,1,H,W] in {0,1},
 *   output `noise` [N,3,H,W] in [-1,1] (H and W divisible by 2^(levels-1)).
 */
export function exportGeneratorToOnnx(config, weights) {
  const nodes = [];
  const inits = [];
  let counter = 0;
  const fresh = (p) => `${p}_${counter++}`;
  const node = (op, inputs, attrs = {}) => {
    const out = fresh(op);
    const n = new Msg();
    for (const i of inputs) n.str(1, i);
    n.str(2, out).str(3, out).str(4, op);
    for (const [k, v] of Object.entries(attrs)) n.msg(5, attr(k, v));
    nodes.push(n);
    return out;
  };
  const constant = (name, dims, data) => {
    inits.push(tensor(name, dims, data));
    return name;
  };
  const get = (name) => {
    const w = weights.get(`G/${name}`);
    if (!w) throw new Error(`weights lack G/${name}`);
    return w;
  };
  const conv = (x, name, relu) => {
    const w = get(`${name}/w`);
    const [kh] = w.shape;
    const p = (kh - 1) / 2;
    const wName = constant(`${name}/w`, [w.shape[3], w.shape[2], w.shape[0], w.shape[1]], toOIHW(w.values, w.shape));
    const bName = constant(`${name}/b`, [w.shape[3]], get(`${name}/b`).values);
    const y = node('Conv', [x, wName, bName], { kernel_shape: [kh, kh], pads: [p, p, p, p], strides: [1, 1] });
    return relu ? node('Relu', [y]) : y;
  };

  const two = constant('two', [], Float32Array.of(2));
  const one = constant('one', [], Float32Array.of(1));
  const scale = (t) => node('Sub', [node('Mul', [t, two]), one]);
  let y = node('Concat', [scale('x'), scale('prompt')], { axis: 1 });
  const levels = config.widths.length;
  const skips = [];
  for (let i = 0; i < levels; i++) {
    if (i > 0) y = node('MaxPool', [y], { kernel_shape: [2, 2], strides: [2, 2] });
    y = conv(y, `enc${i}/c0`, true);
    y = conv(y, `enc${i}/c1`, true);
    skips.push(y);
  }
  const scales = constant('up2', [4], Float32Array.of(1, 1, 2, 2));
  for (let i = levels - 2; i >= 0; i--) {
    // tf.image.resizeBilinear without alignCorners or halfPixelCenters samples at out / 2.
    const up = node('Resize', [y, '', scales], { mode: 'linear', coordinate_transformation_mode: 'asymmetric' });
    y = node('Concat', [up, skips[i]], { axis: 1 });
    y = conv(y, `dec${i}/c0`, true);
    y = conv(y, `dec${i}/c1`, true);
  }
  y = conv(y, 'head', false);
  if (config.centre) y = node('Sub', [y, node('ReduceMean', [y], { axes: [2, 3], keepdims: 1 })]);
  y = node('Tanh', [y]);
  if (config.noise === 'luma') y = node('Tile', [y, constant('tile3', [4], BigInt64Array.of(1n, 3n, 1n, 1n))]);
  const outName = nodes.length;
  // Rename the last node's output to `noise` by an Identity, keeping node names unique.
  const noise = new Msg().str(1, y).str(2, 'noise').str(3, `identity_${outName}`).str(4, 'Identity');
  nodes.push(noise);

  const graph = new Msg();
  for (const n of nodes) graph.msg(1, n);
  graph.str(2, 'unseg_generator');
  for (const t of inits) graph.msg(5, t);
  graph.msg(11, valueInfo('x', ['N', 3, 'H', 'W'])).msg(11, valueInfo('prompt', ['N', 1, 'H', 'W']));
  graph.msg(12, valueInfo('noise', ['N', 3, 'H', 'W']));
  const model = new Msg().int(1, 8).str(2, 'unseg').msg(7, graph).msg(8, new Msg().str(1, '').int(2, 13));
  return model.toBytes();
}

// A module, not a command: run directly, it says so (and where the command is) instead of
// exiting silently.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const usage = `
A module, not a command: exportGeneratorToOnnx(config, weights) writes an unseg generator as an
ONNX model (opset 13, NCHW). The command that uses it:

usage: node tools/bench-throughput/onnx-generator.mjs --help`;
  parseToolArgs({ name: 'onnx-export', usage });
  fail('onnx-export', 'a module, not a command: run node tools/bench-throughput/onnx-generator.mjs (see --help)');
}
