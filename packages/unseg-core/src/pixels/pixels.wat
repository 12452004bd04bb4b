;; Per-pixel kernels of the publishing hot path, 16 pixels (48 interleaved RGB bytes) per step,
;; the uniform noise source's random directions, 16 values per step, and the PNG encoder's
;; scanline filter, 16 bytes per step, its deflate coder (byte histogram, Huffman bit
;; writer, Adler-32), and the blend of the generator's bilinear upsampling. The caller
;; (kernels.ts) copies operands in and out in chunks, padded to whole steps.
;;
;; The loop bodies are written out instead of calling small helpers: V8 does not inline
;; wasm calls by default, and calls passing v128 values made the kernels 2.5-4x slower.
(module
  (memory (export "memory") 1)

  ;; The Huffman bit writer's state between calls: bits not yet written (low bits first, as
  ;; deflate packs them) and how many there are (0-7 between calls).
  (global $acc (mut i64) (i64.const 0))
  (global $nbits (mut i32) (i32.const 0))

  ;; out = clamp(img + step, 0, 255), step = clamp(floor(noise * scale + 0.5), -limit, limit),
  ;; scale and limit by region (mask non-zero: foreground). NaN noise gives step 0 (the
  ;; saturating truncation maps NaN to 0).
  (func (export "apply") (param $img i32) (param $noise i32) (param $mask i32) (param $out i32)
                         (param $blocks i32)
                         (param $scaleFg f32) (param $scaleBg f32) (param $limitFg i32) (param $limitBg i32)
    (local $sFg v128) (local $sBg v128) (local $lFg v128) (local $lBg v128) (local $half v128)
    (local $m v128) (local $mk v128) (local $m32 v128) (local $lim v128) (local $v v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $p0 v128) (local $p1 v128) (local $p2 v128)
    (local $k i32) (local $end i32)
    ;; Which of the block's 16 pixels each channel byte of part k (0, 1, 2) belongs to: one
    ;; swizzle spreads a per-pixel mask over the part's 16 channel bytes.
    (local.set $p0 (v128.const i8x16 0 0 0 1 1 1 2 2 2 3 3 3 4 4 4 5))
    (local.set $p1 (v128.const i8x16 5 5 6 6 6 7 7 7 8 8 8 9 9 9 10 10))
    (local.set $p2 (v128.const i8x16 10 11 11 11 12 12 12 13 13 13 14 14 14 15 15 15))
    (local.set $sFg (f32x4.splat (local.get $scaleFg)))
    (local.set $sBg (f32x4.splat (local.get $scaleBg)))
    (local.set $lFg (i32x4.splat (local.get $limitFg)))
    (local.set $lBg (i32x4.splat (local.get $limitBg)))
    (local.set $half (f32x4.splat (f32.const 0.5)))
    (local.set $end (i32.add (local.get $mask) (i32.shl (local.get $blocks) (i32.const 4))))
    (block $done
      (loop $block
        (br_if $done (i32.ge_u (local.get $mask) (local.get $end)))
        (local.set $m (i8x16.ne (v128.load (local.get $mask)) (v128.const i32x4 0 0 0 0)))
        (local.set $k (i32.const 0))
        (loop $part
          ;; 16 channel values: their pixels' mask bytes, then per 4 values a 32-bit lane mask
          (local.set $mk (i8x16.swizzle (local.get $m) (select (local.get $p0) (select (local.get $p1) (local.get $p2) (i32.eq (local.get $k) (i32.const 1))) (i32.eqz (local.get $k)))))

          (local.set $m32 (i8x16.swizzle (local.get $mk) (v128.const i8x16 0 0 0 0 1 1 1 1 2 2 2 2 3 3 3 3)))
          (local.set $lim (v128.bitselect (local.get $lFg) (local.get $lBg) (local.get $m32)))
          (local.set $s0 (i32x4.max_s (i32x4.min_s (i32x4.trunc_sat_f32x4_s (f32x4.floor (f32x4.add (local.get $half)
            (f32x4.mul (v128.load (local.get $noise)) (v128.bitselect (local.get $sFg) (local.get $sBg) (local.get $m32))))))
            (local.get $lim)) (i32x4.neg (local.get $lim))))

          (local.set $m32 (i8x16.swizzle (local.get $mk) (v128.const i8x16 4 4 4 4 5 5 5 5 6 6 6 6 7 7 7 7)))
          (local.set $lim (v128.bitselect (local.get $lFg) (local.get $lBg) (local.get $m32)))
          (local.set $s1 (i32x4.max_s (i32x4.min_s (i32x4.trunc_sat_f32x4_s (f32x4.floor (f32x4.add (local.get $half)
            (f32x4.mul (v128.load offset=16 (local.get $noise)) (v128.bitselect (local.get $sFg) (local.get $sBg) (local.get $m32))))))
            (local.get $lim)) (i32x4.neg (local.get $lim))))

          (local.set $m32 (i8x16.swizzle (local.get $mk) (v128.const i8x16 8 8 8 8 9 9 9 9 10 10 10 10 11 11 11 11)))
          (local.set $lim (v128.bitselect (local.get $lFg) (local.get $lBg) (local.get $m32)))
          (local.set $s2 (i32x4.max_s (i32x4.min_s (i32x4.trunc_sat_f32x4_s (f32x4.floor (f32x4.add (local.get $half)
            (f32x4.mul (v128.load offset=32 (local.get $noise)) (v128.bitselect (local.get $sFg) (local.get $sBg) (local.get $m32))))))
            (local.get $lim)) (i32x4.neg (local.get $lim))))

          (local.set $m32 (i8x16.swizzle (local.get $mk) (v128.const i8x16 12 12 12 12 13 13 13 13 14 14 14 14 15 15 15 15)))
          (local.set $lim (v128.bitselect (local.get $lFg) (local.get $lBg) (local.get $m32)))
          (local.set $s3 (i32x4.max_s (i32x4.min_s (i32x4.trunc_sat_f32x4_s (f32x4.floor (f32x4.add (local.get $half)
            (f32x4.mul (v128.load offset=48 (local.get $noise)) (v128.bitselect (local.get $sFg) (local.get $sBg) (local.get $m32))))))
            (local.get $lim)) (i32x4.neg (local.get $lim))))

          ;; unsigned saturation of the narrowing is the clamp to 0..255
          (local.set $v (v128.load (local.get $img)))
          (v128.store (local.get $out)
            (i8x16.narrow_i16x8_u
              (i16x8.add (i16x8.extend_low_i8x16_u (local.get $v)) (i16x8.narrow_i32x4_s (local.get $s0) (local.get $s1)))
              (i16x8.add (i16x8.extend_high_i8x16_u (local.get $v)) (i16x8.narrow_i32x4_s (local.get $s2) (local.get $s3)))))

          (local.set $img (i32.add (local.get $img) (i32.const 16)))
          (local.set $out (i32.add (local.get $out) (i32.const 16)))
          (local.set $noise (i32.add (local.get $noise) (i32.const 64)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $part (i32.lt_u (local.get $k) (i32.const 3))))
        (local.set $mask (i32.add (local.get $mask) (i32.const 16)))
        (br $block))))

  (func $laneSum (param $v v128) (result f64)
    (f64.add
      (f64.add (f64.convert_i32_u (i32x4.extract_lane 0 (local.get $v)))
               (f64.convert_i32_u (i32x4.extract_lane 1 (local.get $v))))
      (f64.add (f64.convert_i32_u (i32x4.extract_lane 2 (local.get $v)))
               (f64.convert_i32_u (i32x4.extract_lane 3 (local.get $v))))))
  (func $laneMax (param $v v128) (result i32)
    (local.set $v (i8x16.max_u (local.get $v) (i8x16.shuffle 8 9 10 11 12 13 14 15 0 0 0 0 0 0 0 0 (local.get $v) (local.get $v))))
    (local.set $v (i8x16.max_u (local.get $v) (i8x16.shuffle 4 5 6 7 0 0 0 0 0 0 0 0 0 0 0 0 (local.get $v) (local.get $v))))
    (local.set $v (i8x16.max_u (local.get $v) (i8x16.shuffle 2 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 (local.get $v) (local.get $v))))
    (local.set $v (i8x16.max_u (local.get $v) (i8x16.shuffle 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 (local.get $v) (local.get $v))))
    (i8x16.extract_lane_u 0 (local.get $v)))

  ;; Compares images a and b. Writes at $result, as f64: max |b - a| over foreground channel
  ;; values, the same over background, sum |b - a|, sum (b - a)^2, foreground pixels.
  (func (export "measure") (param $a i32) (param $b i32) (param $mask i32) (param $blocks i32) (param $result i32)
    (local $maxFg v128) (local $maxBg v128) (local $abs v128) (local $sq v128) (local $count v128)
    (local $m v128) (local $mk v128) (local $x v128) (local $y v128) (local $d v128)
    (local $sumAbs f64) (local $sumSq f64) (local $pixels f64)
    (local $p0 v128) (local $p1 v128) (local $p2 v128)
    (local $k i32) (local $chunkEnd i32) (local $end i32)
    ;; Which of the block's 16 pixels each channel byte of part k (0, 1, 2) belongs to: one
    ;; swizzle spreads a per-pixel mask over the part's 16 channel bytes.
    (local.set $p0 (v128.const i8x16 0 0 0 1 1 1 2 2 2 3 3 3 4 4 4 5))
    (local.set $p1 (v128.const i8x16 5 5 6 6 6 7 7 7 8 8 8 9 9 9 10 10))
    (local.set $p2 (v128.const i8x16 10 11 11 11 12 12 12 13 13 13 14 14 14 15 15 15))
    (local.set $end (i32.add (local.get $mask) (i32.shl (local.get $blocks) (i32.const 4))))
    (block $done
      (loop $chunk
        (br_if $done (i32.ge_u (local.get $mask) (local.get $end)))
        ;; the u32 lanes of the squares overflow after about 5000 blocks of the worst case
        ;; (every |d| = 255): flush them into f64 every 1024 blocks
        (local.set $chunkEnd (i32.add (local.get $mask) (i32.const 16384)))
        (if (i32.gt_u (local.get $chunkEnd) (local.get $end)) (then (local.set $chunkEnd (local.get $end))))
        (local.set $abs (v128.const i32x4 0 0 0 0))
        (local.set $sq (v128.const i32x4 0 0 0 0))
        (local.set $count (v128.const i32x4 0 0 0 0))
        (block $chunkDone
          (loop $block
            (br_if $chunkDone (i32.ge_u (local.get $mask) (local.get $chunkEnd)))
            (local.set $m (i8x16.ne (v128.load (local.get $mask)) (v128.const i32x4 0 0 0 0)))
            (local.set $count (i32x4.add (local.get $count)
              (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (v128.and (local.get $m) (i8x16.splat (i32.const 1)))))))
            (local.set $k (i32.const 0))
            (loop $part
              (local.set $mk (i8x16.swizzle (local.get $m) (select (local.get $p0) (select (local.get $p1) (local.get $p2) (i32.eq (local.get $k) (i32.const 1))) (i32.eqz (local.get $k)))))
              (local.set $x (v128.load (local.get $a)))
              (local.set $y (v128.load (local.get $b)))
              (local.set $d (i8x16.sub (i8x16.max_u (local.get $x) (local.get $y)) (i8x16.min_u (local.get $x) (local.get $y))))
              (local.set $maxFg (i8x16.max_u (local.get $maxFg) (v128.and (local.get $d) (local.get $mk))))
              (local.set $maxBg (i8x16.max_u (local.get $maxBg) (v128.andnot (local.get $d) (local.get $mk))))
              (local.set $abs (i32x4.add (local.get $abs)
                (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $d)))))
              (local.set $sq (i32x4.add (local.get $sq)
                (i32x4.add
                  (i32x4.extadd_pairwise_i16x8_u (i16x8.extmul_low_i8x16_u (local.get $d) (local.get $d)))
                  (i32x4.extadd_pairwise_i16x8_u (i16x8.extmul_high_i8x16_u (local.get $d) (local.get $d))))))
              (local.set $a (i32.add (local.get $a) (i32.const 16)))
              (local.set $b (i32.add (local.get $b) (i32.const 16)))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br_if $part (i32.lt_u (local.get $k) (i32.const 3))))
            (local.set $mask (i32.add (local.get $mask) (i32.const 16)))
            (br $block)))
        (local.set $sumAbs (f64.add (local.get $sumAbs) (call $laneSum (local.get $abs))))
        (local.set $sumSq (f64.add (local.get $sumSq) (call $laneSum (local.get $sq))))
        (local.set $pixels (f64.add (local.get $pixels) (call $laneSum (local.get $count))))
        (br $chunk)))
    (f64.store (local.get $result) (f64.convert_i32_u (call $laneMax (local.get $maxFg))))
    (f64.store offset=8 (local.get $result) (f64.convert_i32_u (call $laneMax (local.get $maxBg))))
    (f64.store offset=16 (local.get $result) (local.get $sumAbs))
    (f64.store offset=24 (local.get $result) (local.get $sumSq))
    (f64.store offset=32 (local.get $result) (local.get $pixels)))

  ;; Uniform directions from the mulberry32 stream: word j (from 0) is mulberry32 of
  ;; seed + (j + 1) * 0x6d2b79f5, split into four little-endian bytes b, each written as the float
  ;; (b + 0.5) / 128 - 1. The same words as seeded.ts's mulberry32, four words per step.
  (func (export "uniform") (param $seed i32) (param $firstWord i32) (param $steps i32) (param $out i32)
    (local $a v128) (local $t v128) (local $half v128) (local $end i32)
    ;; lane l starts at word firstWord + l
    (local.set $a
      (i32x4.add (i32x4.splat (local.get $seed))
        (i32x4.mul (i32x4.add (i32x4.splat (local.get $firstWord)) (v128.const i32x4 1 2 3 4))
                   (i32x4.splat (i32.const 0x6d2b79f5)))))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $steps) (i32.const 6))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $t (local.get $a))
        (local.set $t
          (i32x4.mul (v128.xor (local.get $t) (i32x4.shr_u (local.get $t) (i32.const 15)))
                     (v128.or (local.get $t) (i32x4.splat (i32.const 1)))))
        (local.set $t
          (v128.xor (local.get $t)
            (i32x4.add (local.get $t)
              (i32x4.mul (v128.xor (local.get $t) (i32x4.shr_u (local.get $t) (i32.const 7)))
                         (v128.or (local.get $t) (i32x4.splat (i32.const 61)))))))
        (local.set $t (v128.xor (local.get $t) (i32x4.shr_u (local.get $t) (i32.const 14))))
        ;; bytes 0-7, then 8-15, widened to 32 bits and mapped to (b + 0.5) / 128 - 1
        (local.set $half (i16x8.extend_low_i8x16_u (local.get $t)))
        (v128.store (local.get $out) (f32x4.sub (f32x4.mul (f32x4.add (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $half)))
          (f32x4.splat (f32.const 0.5))) (f32x4.splat (f32.const 0.0078125))) (f32x4.splat (f32.const 1))))
        (v128.store offset=16 (local.get $out) (f32x4.sub (f32x4.mul (f32x4.add (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $half)))
          (f32x4.splat (f32.const 0.5))) (f32x4.splat (f32.const 0.0078125))) (f32x4.splat (f32.const 1))))
        (local.set $half (i16x8.extend_high_i8x16_u (local.get $t)))
        (v128.store offset=32 (local.get $out) (f32x4.sub (f32x4.mul (f32x4.add (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_u (local.get $half)))
          (f32x4.splat (f32.const 0.5))) (f32x4.splat (f32.const 0.0078125))) (f32x4.splat (f32.const 1))))
        (v128.store offset=48 (local.get $out) (f32x4.sub (f32x4.mul (f32x4.add (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_u (local.get $half)))
          (f32x4.splat (f32.const 0.5))) (f32x4.splat (f32.const 0.0078125))) (f32x4.splat (f32.const 1))))
        (local.set $a (i32x4.add (local.get $a) (i32x4.splat (i32.const 0xb4ade7d4)))) ;; 4 * 0x6d2b79f5 mod 2^32
        (local.set $out (i32.add (local.get $out) (i32.const 64)))
        (br $next))))

  ;; out = a - b byte by byte (mod 256), 16 bytes per step: PNG's "Up" filter when a is a run of
  ;; scanlines and b the same run one scanline earlier.
  (func (export "subtract") (param $a i32) (param $b i32) (param $out i32) (param $blocks i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $blocks) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (v128.store (local.get $out) (i8x16.sub (v128.load (local.get $a)) (v128.load (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $next))))

  ;; counts[b] += number of bytes equal to b in src[0, n), counts being 256 u32 at $counts.
  ;; Four interleaved tables (at $scratch, 4 KiB, zeroed here) so that runs of equal bytes do
  ;; not wait on one counter's previous increment.
  (func (export "histogram") (param $src i32) (param $n i32) (param $counts i32) (param $scratch i32)
    (local $end i32) (local $w i32) (local $i i32) (local $at i32)
    (memory.fill (local.get $scratch) (i32.const 0) (i32.const 4096))
    (local.set $end (i32.add (local.get $src) (i32.and (local.get $n) (i32.const -4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $w (i32.load (local.get $src)))
        (local.set $at (i32.add (local.get $scratch) (i32.shl (i32.and (local.get $w) (i32.const 255)) (i32.const 2))))
        (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
        (local.set $at (i32.add (local.get $scratch) (i32.add (i32.const 1024) (i32.and (i32.shr_u (local.get $w) (i32.const 6)) (i32.const 1020)))))
        (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
        (local.set $at (i32.add (local.get $scratch) (i32.add (i32.const 2048) (i32.and (i32.shr_u (local.get $w) (i32.const 14)) (i32.const 1020)))))
        (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
        (local.set $at (i32.add (local.get $scratch) (i32.add (i32.const 3072) (i32.shl (i32.shr_u (local.get $w) (i32.const 24)) (i32.const 2)))))
        (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $next)))
    ;; the last n mod 4 bytes
    (local.set $end (i32.add (local.get $end) (i32.and (local.get $n) (i32.const 3))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $at (i32.add (local.get $scratch) (i32.shl (i32.load8_u (local.get $src)) (i32.const 2))))
        (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (br $next)))
    (local.set $i (i32.const 0))
    (loop $sum
      (local.set $at (i32.add (local.get $scratch) (local.get $i)))
      (i32.store (i32.add (local.get $counts) (local.get $i))
        (i32.add (i32.load (i32.add (local.get $counts) (local.get $i)))
          (i32.add (i32.add (i32.load (local.get $at)) (i32.load offset=1024 (local.get $at)))
                   (i32.add (i32.load offset=2048 (local.get $at)) (i32.load offset=3072 (local.get $at))))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br_if $sum (i32.lt_u (local.get $i) (i32.const 1024)))))

  ;; Appends the low $count bits of $value (count <= 32) to the bit stream; whole bytes go to
  ;; $out. Returns the number of bytes written.
  (func (export "putBits") (param $value i32) (param $count i32) (param $out i32) (result i32)
    (local $n i32)
    (global.set $acc (i64.or (global.get $acc)
      (i64.shl (i64.extend_i32_u (local.get $value)) (i64.extend_i32_u (global.get $nbits)))))
    (global.set $nbits (i32.add (global.get $nbits) (local.get $count)))
    (i64.store (local.get $out) (global.get $acc))
    (local.set $n (i32.shr_u (global.get $nbits) (i32.const 3)))
    (global.set $acc (i64.shr_u (global.get $acc) (i64.extend_i32_u (i32.shl (local.get $n) (i32.const 3)))))
    (global.set $nbits (i32.and (global.get $nbits) (i32.const 7)))
    (local.get $n))

  ;; Huffman-codes src[0, n) as deflate literals: the code of byte b is the u32 at
  ;; $table + 4b, its bits (already reversed, as deflate sends them) in the low 16 and its length
  ;; in the high 16. Whole bytes go to $out (room for 2n + 8 bytes); returns how many. Three
  ;; codes (at most 45 bits) join the at most 7 bits held before one 8-byte store, and the
  ;; writer advances by the whole bytes it holds, so the loop has no branch but its own.
  (func (export "huffman") (param $src i32) (param $n i32) (param $table i32) (param $out i32) (result i32)
    (local $acc i64) (local $nbits i32) (local $e i32) (local $start i32) (local $end i32)
    (local.set $acc (global.get $acc))
    (local.set $nbits (global.get $nbits))
    (local.set $start (local.get $out))
    (local.set $end (i32.add (local.get $src) (i32.sub (local.get $n) (i32.rem_u (local.get $n) (i32.const 3)))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $e (i32.load (i32.add (local.get $table) (i32.shl (i32.load8_u (local.get $src)) (i32.const 2)))))
        (local.set $acc (i64.or (local.get $acc)
          (i64.shl (i64.extend_i32_u (i32.and (local.get $e) (i32.const 0xffff))) (i64.extend_i32_u (local.get $nbits)))))
        (local.set $nbits (i32.add (local.get $nbits) (i32.shr_u (local.get $e) (i32.const 16))))
        (local.set $e (i32.load (i32.add (local.get $table) (i32.shl (i32.load8_u offset=1 (local.get $src)) (i32.const 2)))))
        (local.set $acc (i64.or (local.get $acc)
          (i64.shl (i64.extend_i32_u (i32.and (local.get $e) (i32.const 0xffff))) (i64.extend_i32_u (local.get $nbits)))))
        (local.set $nbits (i32.add (local.get $nbits) (i32.shr_u (local.get $e) (i32.const 16))))
        (local.set $e (i32.load (i32.add (local.get $table) (i32.shl (i32.load8_u offset=2 (local.get $src)) (i32.const 2)))))
        (local.set $acc (i64.or (local.get $acc)
          (i64.shl (i64.extend_i32_u (i32.and (local.get $e) (i32.const 0xffff))) (i64.extend_i32_u (local.get $nbits)))))
        (local.set $nbits (i32.add (local.get $nbits) (i32.shr_u (local.get $e) (i32.const 16))))
        (i64.store (local.get $out) (local.get $acc))
        (local.set $out (i32.add (local.get $out) (i32.shr_u (local.get $nbits) (i32.const 3))))
        (local.set $acc (i64.shr_u (local.get $acc) (i64.extend_i32_u (i32.and (local.get $nbits) (i32.const -8)))))
        (local.set $nbits (i32.and (local.get $nbits) (i32.const 7)))
        (local.set $src (i32.add (local.get $src) (i32.const 3)))
        (br $next)))
    ;; the last n mod 3 bytes, one code per store
    (local.set $end (i32.add (local.get $end) (i32.rem_u (local.get $n) (i32.const 3))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $e (i32.load (i32.add (local.get $table) (i32.shl (i32.load8_u (local.get $src)) (i32.const 2)))))
        (local.set $acc (i64.or (local.get $acc)
          (i64.shl (i64.extend_i32_u (i32.and (local.get $e) (i32.const 0xffff))) (i64.extend_i32_u (local.get $nbits)))))
        (local.set $nbits (i32.add (local.get $nbits) (i32.shr_u (local.get $e) (i32.const 16))))
        (i64.store (local.get $out) (local.get $acc))
        (local.set $out (i32.add (local.get $out) (i32.shr_u (local.get $nbits) (i32.const 3))))
        (local.set $acc (i64.shr_u (local.get $acc) (i64.extend_i32_u (i32.and (local.get $nbits) (i32.const -8)))))
        (local.set $nbits (i32.and (local.get $nbits) (i32.const 7)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (br $next)))
    (global.set $acc (local.get $acc))
    (global.set $nbits (local.get $nbits))
    (i32.sub (local.get $out) (local.get $start)))

  ;; Writes the bits still held, padded with zeros to a whole byte, to $out and empties the
  ;; writer; returns the number of bytes written (0 or 1).
  (func (export "flushBits") (param $out i32) (result i32)
    (local $n i32)
    (local.set $n (i32.shr_u (i32.add (global.get $nbits) (i32.const 7)) (i32.const 3)))
    (i64.store (local.get $out) (global.get $acc))
    (global.set $acc (i64.const 0))
    (global.set $nbits (i32.const 0))
    (local.get $n))

  ;; Adler-32 (zlib's checksum) of src[0, n) continued from $adler. Blocks of 16 bytes: with a and
  ;; b the running sums, a block x1..x16 adds S = sum x to a and 16a + W to b, W = sum (17 - i) xi.
  ;; Runs of at most 256 blocks keep every 32-bit lane far from overflow before the modulo.
  (func (export "adler32") (param $src i32) (param $n i32) (param $adler i32) (result i32)
    (local $a i64) (local $b i64) (local $blocks i32) (local $run i32) (local $k i32)
    (local $x v128) (local $lo v128) (local $hi v128) (local $s v128) (local $p v128) (local $w v128)
    (local $end i32)
    (local.set $a (i64.extend_i32_u (i32.and (local.get $adler) (i32.const 0xffff))))
    (local.set $b (i64.extend_i32_u (i32.shr_u (local.get $adler) (i32.const 16))))
    (local.set $blocks (i32.shr_u (local.get $n) (i32.const 4)))
    (block $runsDone
      (loop $runs
        (br_if $runsDone (i32.eqz (local.get $blocks)))
        (local.set $run (select (i32.const 256) (local.get $blocks) (i32.gt_u (local.get $blocks) (i32.const 256))))
        (local.set $s (v128.const i32x4 0 0 0 0))
        (local.set $p (v128.const i32x4 0 0 0 0))
        (local.set $w (v128.const i32x4 0 0 0 0))
        (local.set $k (i32.const 0))
        (loop $block
          (local.set $x (v128.load (local.get $src)))
          (local.set $lo (i16x8.extend_low_i8x16_u (local.get $x)))
          (local.set $hi (i16x8.extend_high_i8x16_u (local.get $x)))
          ;; p collects the sums of the blocks before this one (each adds 16a to b)
          (local.set $p (i32x4.add (local.get $p) (local.get $s)))
          (local.set $s (i32x4.add (local.get $s)
            (i32x4.add (i32x4.dot_i16x8_s (local.get $lo) (v128.const i16x8 1 1 1 1 1 1 1 1))
                       (i32x4.dot_i16x8_s (local.get $hi) (v128.const i16x8 1 1 1 1 1 1 1 1)))))
          (local.set $w (i32x4.add (local.get $w)
            (i32x4.add (i32x4.dot_i16x8_s (local.get $lo) (v128.const i16x8 16 15 14 13 12 11 10 9))
                       (i32x4.dot_i16x8_s (local.get $hi) (v128.const i16x8 8 7 6 5 4 3 2 1)))))
          (local.set $src (i32.add (local.get $src) (i32.const 16)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $block (i32.lt_u (local.get $k) (local.get $run))))
        (local.set $b (i64.rem_u
          (i64.add (local.get $b)
            (i64.add (i64.mul (i64.const 16) (i64.add (i64.mul (i64.extend_i32_u (local.get $run)) (local.get $a))
                                                        (i64.extend_i32_u (call $lanes (local.get $p)))))
                     (i64.extend_i32_u (call $lanes (local.get $w)))))
          (i64.const 65521)))
        (local.set $a (i64.rem_u (i64.add (local.get $a) (i64.extend_i32_u (call $lanes (local.get $s)))) (i64.const 65521)))
        (local.set $blocks (i32.sub (local.get $blocks) (local.get $run)))
        (br $runs)))
    ;; the last n mod 16 bytes, one at a time
    (local.set $end (i32.add (local.get $src) (i32.and (local.get $n) (i32.const 15))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $a (i64.add (local.get $a) (i64.extend_i32_u (i32.load8_u (local.get $src)))))
        (local.set $b (i64.add (local.get $b) (local.get $a)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (br $next)))
    (i32.or (i32.wrap_i64 (i64.rem_u (local.get $a) (i64.const 65521)))
            (i32.shl (i32.wrap_i64 (i64.rem_u (local.get $b) (i64.const 65521))) (i32.const 16))))

  ;; out = a + (b - a) * t for $blocks steps of four f32 values, computed in f64 and rounded to
  ;; f32 once, which is what JavaScript computes for the same expression on Float32Arrays: the
  ;; generator's bilinear upsampling gives the same directions either way.
  (func (export "lerp") (param $a i32) (param $b i32) (param $t f64) (param $out i32) (param $blocks i32)
    (local $tv v128) (local $va v128) (local $vb v128) (local $lo v128) (local $hi v128) (local $end i32)
    (local.set $tv (f64x2.splat (local.get $t)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $blocks) (i32.const 4))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $va (v128.load (local.get $a)))
        (local.set $vb (v128.load (local.get $b)))
        (local.set $lo (f64x2.add (f64x2.promote_low_f32x4 (local.get $va))
          (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $vb)) (f64x2.promote_low_f32x4 (local.get $va))) (local.get $tv))))
        ;; lanes 2 and 3 moved down to be promoted
        (local.set $va (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $va) (local.get $va)))
        (local.set $vb (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $vb) (local.get $vb)))
        (local.set $hi (f64x2.add (f64x2.promote_low_f32x4 (local.get $va))
          (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $vb)) (f64x2.promote_low_f32x4 (local.get $va))) (local.get $tv))))
        (v128.store (local.get $out)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $next))))

  ;; The sum of a vector's four u32 lanes (called once per run, not per step).
  (func $lanes (param $v v128) (result i32)
    (i32.add (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
             (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))
)
