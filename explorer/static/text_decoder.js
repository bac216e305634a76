// The page's greedy decoder of a text VAE / CVAE: training/text_models.py GRUDecoder.greedy and
// training/tokenizer.py TextTokenizer.decode, in plain JavaScript (Float32Array loops, no WebGL, no WebAssembly).
// It runs on the file explorer/backends/browser_text_decoder.py makes from a model folder (text_decoder.safetensors:
// float32 weights + the tokenizer's table of each token's bytes, described by a JSON manifest in its header).
//
// Defines window.__xpTextDecoder = {parse, decode, greedy, detokenise, isEmpty} once; static/decoder.js (the slider
// handling, which this file is prepended to in the page) uses it, and so can a test under node.
//
//   parse(arrayBuffer)        -> m, the model: throws Error (one line) for a file that is not a valid decoder file
//   greedy(m, z, label)       -> token ids, without <bos> and <eos> (label: a class id for a CVAE, else ignored)
//   detokenise(m, ids)        -> the sentence, exactly as TextTokenizer.decode writes it
//   decode(m, z, label)       -> detokenise(m, greedy(m, z, label))
//
// Exactness: the server's decode (PyTorch, float32) is followed step by step. Every vector that is a float32
// tensor in PyTorch is a Float32Array here (so it is rounded to float32 where PyTorch rounds it); dot products are
// summed in double precision and rounded once, which is within rounding error of PyTorch's float32 sums, so the
// argmax (the next word) is the same unless two words' logits tie to ~1e-6 (tests/test_browser_text_decoder.py
// and the page's own check against the server's sentences at load, in decoder.js).
(function (root) {
  "use strict";
  if (root.__xpTextDecoder && root.__xpTextDecoder.version === 1) return;
  const FORMAT = "latent-explorer-text-decoder";
  const fround = Math.fround;

  function fail(msg) { throw new Error(msg); }

  // ---- the file -------------------------------------------------------------------------------------------
  function parse(buffer) {
    if (!(buffer instanceof ArrayBuffer)) fail("the decoder file is not binary data");
    if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) fail("this machine is big-endian");
    if (buffer.byteLength < 16) fail(`the decoder file has ${buffer.byteLength} bytes`);
    const dv = new DataView(buffer);
    const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 4294967296;
    if (n < 2 || n > 1e6 || 8 + n > buffer.byteLength) fail("the decoder file's header size is wrong");
    let header;
    try {
      header = JSON.parse(new TextDecoder("utf-8").decode(new Uint8Array(buffer, 8, n)));
    } catch (e) { fail("the decoder file's header is not JSON"); }
    let man;
    try { man = JSON.parse(header.__metadata__.manifest); } catch (e) { fail("the decoder file has no manifest"); }
    if (!man || man.format !== FORMAT || man.version !== 1) fail(`the decoder file is not a ${FORMAT} v1 file`);
    const int = (k) => {
      const v = man[k];
      if (!Number.isInteger(v) || v < 0 || v > 1e7) fail(`the decoder file's ${k} is ${v}`);
      return v;
    };
    const L = int("latent_dim"), C = int("num_classes"), V = int("vocab_size"), E = int("embed_dim");
    const H = int("dec_hidden"), maxLen = int("max_len");
    const pad = int("pad"), bos = int("bos"), eos = int("eos");
    if (L < 1 || V < 4 || E < 1 || H < 1 || eos >= V || pad >= V || bos >= V) fail("the decoder file's sizes are wrong");
    const start = 8 + n, body = buffer.byteLength - start;
    const SIZE = { F32: 4, I32: 4, U8: 1 };
    function tensor(name, dtype, shape) {
      const t = header[name];
      if (!t || t.dtype !== dtype || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) {
        fail(`the decoder file has no ${dtype} tensor ${name}`);
      }
      if (shape && (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i]))) {
        fail(`the decoder file's ${name} is [${t.shape}], not [${shape}]`);
      }
      const count = t.shape.reduce((a, b) => a * b, 1);
      const [b, e] = t.data_offsets;
      if (!(Number.isInteger(b) && Number.isInteger(e) && 0 <= b && b <= e && e <= body &&
            e - b === count * SIZE[dtype])) fail(`the decoder file's ${name} lies outside the file`);
      const off = start + b;
      const Type = dtype === "F32" ? Float32Array : dtype === "I32" ? Int32Array : Uint8Array;
      // a view where the bytes are aligned for the type, else a copy
      return off % Type.BYTES_PER_ELEMENT === 0 ? new Type(buffer, off, count)
        : new Type(buffer.slice(off, off + count * Type.BYTES_PER_ELEMENT));
    }
    const K = E + L + C;
    const m = {
      L, C, V, E, H, K, maxLen, pad, bos, eos, manifest: man,
      embed: tensor("embed", "F32", [V, E]),
      initW: tensor("init.weight", "F32", [H, L + C]), initB: tensor("init.bias", "F32", [H]),
      wih: tensor("gru.weight_ih", "F32", [3 * H, K]), whh: tensor("gru.weight_hh", "F32", [3 * H, H]),
      bih: tensor("gru.bias_ih", "F32", [3 * H]), bhh: tensor("gru.bias_hh", "F32", [3 * H]),
      projW: tensor("proj.weight", "F32", [E, H]), projB: tensor("proj.bias", "F32", [E]),
      bias: tensor("bias", "F32", [V]),
      offsets: tensor("token_offsets", "I32", [V + 1]),
      bytes: tensor("token_bytes", "U8", null),
      sep: new TextEncoder().encode(typeof man.separator === "string" ? man.separator : ""),
      // the step's working vectors (float32, as PyTorch's tensors), reused by every decode
      code: new Float32Array(L + C), codePart: new Float64Array(3 * H), h: new Float32Array(H),
      gi: new Float32Array(3 * H), gh: new Float32Array(3 * H), p: new Float32Array(E),
    };
    const off = m.offsets;
    if (off[0] !== 0 || off[V] !== m.bytes.length) fail("the decoder file's token table does not fit its bytes");
    for (let i = 0; i < V; i++) if (off[i + 1] < off[i]) fail("the decoder file's token table is out of order");
    // the utf-8 reader: ignoreBOM keeps a leading U+FEFF, as tokenizers' from_utf8_lossy does; invalid bytes
    // become U+FFFD (not fatal), one per maximal invalid subsequence, also as from_utf8_lossy
    m.utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
    return m;
  }

  // ---- the loop -------------------------------------------------------------------------------------------
  // sum_j W[row + j] * x[xo + j] for j < n, in double precision (four partial sums, for speed)
  function dot(W, row, x, xo, n) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, j = 0;
    for (; j + 3 < n; j += 4) {
      s0 += W[row + j] * x[xo + j];
      s1 += W[row + j + 1] * x[xo + j + 1];
      s2 += W[row + j + 2] * x[xo + j + 2];
      s3 += W[row + j + 3] * x[xo + j + 3];
    }
    for (; j < n; j++) s0 += W[row + j] * x[xo + j];
    return (s0 + s1) + (s2 + s3);
  }

  function sigmoid(x) { return 1 / (1 + Math.exp(-x)); }

  function greedy(m, z, label) {
    const { L, C, E, H, K, V, embed, wih, whh, bih, bhh, code, codePart, h, gi, gh, p } = m;
    const LC = L + C;
    for (let i = 0; i < L; i++) { const v = Number(z[i]); code[i] = Number.isFinite(v) ? v : 0; }  // float32
    for (let k = 0; k < C; k++) code[L + k] = 0;
    if (C) {
      const k = Number.isInteger(label) && label >= 0 && label < C ? label : 0;
      code[L + k] = 1;                                                     // the one-hot class
    }
    // h0 = tanh(init([z, c]))
    for (let i = 0; i < H; i++) h[i] = Math.tanh(fround(fround(dot(m.initW, i * LC, code, 0, LC)) + m.initB[i]));
    // The input is [embed(tok), z, c]: the [z, c] columns of W_ih give the same sum at every step.
    for (let i = 0; i < 3 * H; i++) codePart[i] = dot(wih, i * K + E, code, 0, LC);
    const out = [];
    let tok = m.bos;
    for (let t = 0; t < m.maxLen; t++) {          // at most max_len words, then <eos>
      const eo = tok * E;
      for (let i = 0; i < 3 * H; i++) {
        gi[i] = fround(dot(wih, i * K, embed, eo, E) + codePart[i]) + bih[i];   // W_ih x + b_ih
        gh[i] = fround(dot(whh, i * H, h, 0, H)) + bhh[i];                      // W_hh h + b_hh
      }
      // PyTorch's GRU cell (gate order r, z, n): r = σ(gh_r + gi_r), u = σ(gh_z + gi_z),
      // n = tanh(gi_n + gh_n * r), h' = (h - n) * u + n
      for (let i = 0; i < H; i++) {
        const r = fround(sigmoid(fround(gh[i] + gi[i])));
        const u = fround(sigmoid(fround(gh[H + i] + gi[H + i])));
        const n = fround(Math.tanh(fround(gi[2 * H + i] + fround(gh[2 * H + i] * r))));
        h[i] = fround(fround(h[i] - n) * u) + n;
      }
      // logits = proj(h) @ embed.T + bias, <pad> and <bos> never written; the first maximum wins (torch.argmax)
      for (let e = 0; e < E; e++) p[e] = fround(dot(m.projW, e * H, h, 0, H)) + m.projB[e];
      let best = -Infinity, arg = -1;
      for (let v = 0; v < V; v++) {
        if (v === m.pad || v === m.bos) continue;
        const s = fround(fround(dot(embed, v * E, p, 0, E)) + m.bias[v]);
        if (s > best || arg < 0) { best = s; arg = v; }
      }
      if (arg === m.eos) break;
      out.push(arg);
      tok = arg;
    }
    return out;
  }

  // TextTokenizer.decode: the tokens' bytes joined (by a space for a word tokenizer), read as UTF-8.
  function detokenise(m, ids) {
    const off = m.offsets, sep = m.sep;
    let n = 0;
    for (let k = 0; k < ids.length; k++) n += off[ids[k] + 1] - off[ids[k]] + (k ? sep.length : 0);
    const buf = new Uint8Array(n);
    let at = 0;
    for (let k = 0; k < ids.length; k++) {
      if (k && sep.length) { buf.set(sep, at); at += sep.length; }
      buf.set(m.bytes.subarray(off[ids[k]], off[ids[k] + 1]), at);
      at += off[ids[k] + 1] - off[ids[k]];
    }
    return m.utf8.decode(buf);
  }

  function decode(m, z, label) { return detokenise(m, greedy(m, z, label)); }

  // Python's str.isspace, for explorer/modalities/text.py's `text.strip()` test of an empty sentence
  const SPACE = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;
  function isEmpty(text) { return SPACE.test(text); }

  root.__xpTextDecoder = { version: 1, parse, greedy, detokenise, decode, isEmpty };
})(typeof window !== "undefined" ? window : globalThis);
