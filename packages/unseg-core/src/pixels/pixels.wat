;; Per-pixel kernels of the publishing hot path, 16 pixels (48 interleaved RGB bytes) per step,
;; the uniform noise source's random directions, 16 values per step, and the PNG encoder's
;; scanline filter, 16 bytes per step. The caller (kernels.ts) copies operands in and out in
;; chunks, padded to whole steps.
;;
;; The loop bodies are written out instead of calling small helpers: V8 does not inline
;; wasm calls by default, and calls passing v128 values made the kernels 2.5-4x slower.
(module
  (memory (export "memory") 1)

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
)
