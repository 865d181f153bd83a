;; The float32 Gram products of the CPU feature path (native/simd.ts): one 2×4 block of X·Xᵀ per call
;; (a 2×2 block where fewer than four Gram columns are left), four floats per step. Each f32×f32
;; product is taken in f64 lanes (f64x2.promote_low_f32x4), where it is exact, and accumulated in f64, so the result is as accurate as the plain loop in
;; native/gram.ts (test/unit/features/gram.test.ts checks both against a compensated sum). Built by
;; native/wasm/build.ts (wabt 1.0.39) into gram.wasm beside this file; a test rebuilds it and
;; compares bytes.
(module
  (memory (export "mem") 1)

  ;; dot2x2(p0, p1, q0, q1, n, out): for float32 rows at byte offsets p0, p1 (x0, x1) and q0, q1
  ;; (y0, y1), n a multiple of 4, writes Σ x0·y0, Σ x0·y1, Σ x1·y0, Σ x1·y1 as four f64 at out.
  (func (export "dot2x2") (param $p0 i32) (param $p1 i32) (param $q0 i32) (param $q1 i32) (param $n i32) (param $out i32)
    (local $k i32) (local $end i32)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $x0lo v128) (local $x0hi v128) (local $x1lo v128) (local $x1hi v128)
    (local $y0lo v128) (local $y0hi v128) (local $y1lo v128) (local $y1hi v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (br_if $done (i32.ge_u (local.get $k) (local.get $end)))
      (loop $step
        ;; four floats of each row, as the f64x2 pairs of their low and high halves
        (local.set $x0lo (call $low (i32.add (local.get $p0) (local.get $k))))
        (local.set $x0hi (call $high (i32.add (local.get $p0) (local.get $k))))
        (local.set $x1lo (call $low (i32.add (local.get $p1) (local.get $k))))
        (local.set $x1hi (call $high (i32.add (local.get $p1) (local.get $k))))
        (local.set $y0lo (call $low (i32.add (local.get $q0) (local.get $k))))
        (local.set $y0hi (call $high (i32.add (local.get $q0) (local.get $k))))
        (local.set $y1lo (call $low (i32.add (local.get $q1) (local.get $k))))
        (local.set $y1hi (call $high (i32.add (local.get $q1) (local.get $k))))
        (local.set $s00 (f64x2.add (f64x2.add (local.get $s00) (f64x2.mul (local.get $x0lo) (local.get $y0lo))) (f64x2.mul (local.get $x0hi) (local.get $y0hi))))
        (local.set $s01 (f64x2.add (f64x2.add (local.get $s01) (f64x2.mul (local.get $x0lo) (local.get $y1lo))) (f64x2.mul (local.get $x0hi) (local.get $y1hi))))
        (local.set $s10 (f64x2.add (f64x2.add (local.get $s10) (f64x2.mul (local.get $x1lo) (local.get $y0lo))) (f64x2.mul (local.get $x1hi) (local.get $y0hi))))
        (local.set $s11 (f64x2.add (f64x2.add (local.get $s11) (f64x2.mul (local.get $x1lo) (local.get $y1lo))) (f64x2.mul (local.get $x1hi) (local.get $y1hi))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br_if $step (i32.lt_u (local.get $k) (local.get $end)))))
    (f64.store offset=0 (local.get $out) (call $lanes (local.get $s00)))
    (f64.store offset=8 (local.get $out) (call $lanes (local.get $s01)))
    (f64.store offset=16 (local.get $out) (call $lanes (local.get $s10)))
    (f64.store offset=24 (local.get $out) (call $lanes (local.get $s11))))

  ;; dot2x4(p0, p1, q0, stride, n, out): for float32 rows x0, x1 at byte offsets p0, p1 and y0..y3 at
  ;; q0, q0 + stride, q0 + 2·stride, q0 + 3·stride, n a multiple of 4, writes the eight sums Σ xa·yb
  ;; (a = 0, 1; b = 0..3) as f64 at out, row by row. Each loaded x value meets four y rows instead of
  ;; dot2x2's two, so a step does twice the multiply-adds for half again the loads: the kernel time of
  ;; an SD-1.x rank-32 adapter's Gram products went from 27.5 to 19.5 ms (2 cores, Node 24). Eight
  ;; accumulators and the rows' halves in use fit the sixteen SIMD registers of x64 and arm64.
  (func (export "dot2x4") (param $p0 i32) (param $p1 i32) (param $q0 i32) (param $stride i32) (param $n i32) (param $out i32)
    (local $k i32) (local $end i32) (local $q1 i32) (local $q2 i32) (local $q3 i32)
    (local $s00 v128) (local $s01 v128) (local $s02 v128) (local $s03 v128) (local $s10 v128) (local $s11 v128) (local $s12 v128) (local $s13 v128)
    (local $x0lo v128) (local $x0hi v128) (local $x1lo v128) (local $x1hi v128) (local $ylo v128) (local $yhi v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $q1 (i32.add (local.get $q0) (local.get $stride)))
    (local.set $q2 (i32.add (local.get $q1) (local.get $stride)))
    (local.set $q3 (i32.add (local.get $q2) (local.get $stride)))
    (block $done
      (br_if $done (i32.ge_u (local.get $k) (local.get $end)))
      (loop $step
        (local.set $x0lo (call $low (i32.add (local.get $p0) (local.get $k))))
        (local.set $x0hi (call $high (i32.add (local.get $p0) (local.get $k))))
        (local.set $x1lo (call $low (i32.add (local.get $p1) (local.get $k))))
        (local.set $x1hi (call $high (i32.add (local.get $p1) (local.get $k))))
        (local.set $ylo (call $low (i32.add (local.get $q0) (local.get $k))))
        (local.set $yhi (call $high (i32.add (local.get $q0) (local.get $k))))
        (local.set $s00 (f64x2.add (f64x2.add (local.get $s00) (f64x2.mul (local.get $x0lo) (local.get $ylo))) (f64x2.mul (local.get $x0hi) (local.get $yhi))))
        (local.set $s10 (f64x2.add (f64x2.add (local.get $s10) (f64x2.mul (local.get $x1lo) (local.get $ylo))) (f64x2.mul (local.get $x1hi) (local.get $yhi))))
        (local.set $ylo (call $low (i32.add (local.get $q1) (local.get $k))))
        (local.set $yhi (call $high (i32.add (local.get $q1) (local.get $k))))
        (local.set $s01 (f64x2.add (f64x2.add (local.get $s01) (f64x2.mul (local.get $x0lo) (local.get $ylo))) (f64x2.mul (local.get $x0hi) (local.get $yhi))))
        (local.set $s11 (f64x2.add (f64x2.add (local.get $s11) (f64x2.mul (local.get $x1lo) (local.get $ylo))) (f64x2.mul (local.get $x1hi) (local.get $yhi))))
        (local.set $ylo (call $low (i32.add (local.get $q2) (local.get $k))))
        (local.set $yhi (call $high (i32.add (local.get $q2) (local.get $k))))
        (local.set $s02 (f64x2.add (f64x2.add (local.get $s02) (f64x2.mul (local.get $x0lo) (local.get $ylo))) (f64x2.mul (local.get $x0hi) (local.get $yhi))))
        (local.set $s12 (f64x2.add (f64x2.add (local.get $s12) (f64x2.mul (local.get $x1lo) (local.get $ylo))) (f64x2.mul (local.get $x1hi) (local.get $yhi))))
        (local.set $ylo (call $low (i32.add (local.get $q3) (local.get $k))))
        (local.set $yhi (call $high (i32.add (local.get $q3) (local.get $k))))
        (local.set $s03 (f64x2.add (f64x2.add (local.get $s03) (f64x2.mul (local.get $x0lo) (local.get $ylo))) (f64x2.mul (local.get $x0hi) (local.get $yhi))))
        (local.set $s13 (f64x2.add (f64x2.add (local.get $s13) (f64x2.mul (local.get $x1lo) (local.get $ylo))) (f64x2.mul (local.get $x1hi) (local.get $yhi))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br_if $step (i32.lt_u (local.get $k) (local.get $end)))))
    (f64.store offset=0 (local.get $out) (call $lanes (local.get $s00)))
    (f64.store offset=8 (local.get $out) (call $lanes (local.get $s01)))
    (f64.store offset=16 (local.get $out) (call $lanes (local.get $s02)))
    (f64.store offset=24 (local.get $out) (call $lanes (local.get $s03)))
    (f64.store offset=32 (local.get $out) (call $lanes (local.get $s10)))
    (f64.store offset=40 (local.get $out) (call $lanes (local.get $s11)))
    (f64.store offset=48 (local.get $out) (call $lanes (local.get $s12)))
    (f64.store offset=56 (local.get $out) (call $lanes (local.get $s13))))

  ;; floats 0 and 1 of the four at `at`, as f64
  (func $low (param $at i32) (result v128)
    (f64x2.promote_low_f32x4 (v128.load align=4 (local.get $at))))

  ;; floats 2 and 3 of the four at `at`, as f64
  (func $high (param $at i32) (result v128)
    (f64x2.promote_low_f32x4 (v128.load64_zero align=4 (i32.add (local.get $at) (i32.const 8)))))

  ;; lane 0 + lane 1
  (func $lanes (param $s v128) (result f64)
    (f64.add (f64x2.extract_lane 0 (local.get $s)) (f64x2.extract_lane 1 (local.get $s))))
)
