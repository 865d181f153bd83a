;; Eigenvalues of a small symmetric matrix (the three r×r problems per module of the CPU feature path,
;; native/eigen.ts): Householder tridiagonalisation, then implicit QL, with no eigenvectors. The same
;; steps, in the same order, as the values-only path of eigen.ts's tred2/tql2 (EISPACK's pair as
;; published in JAMA), so for an exactly symmetric matrix the results are the same to the bit
;; (test/unit/features/eigen.test.ts checks it). Per SD-1.x rank-32 adapter (384 problems) the
;; tridiagonalisation takes 4.7 ms here against 12.6 ms as JavaScript (no bounds checks, no boxing);
;; QL, bound by the latency of each rotation's square root and divisions, takes about 9 ms either way.
;; Built by native/wasm/build.ts (wabt 1.0.39) into eigen.wasm beside this file.
;;
;; Memory: the n×n row-major matrix as f64 at byte 0 (destroyed), then d (n f64), then e (n f64).
;; eigenvalues(n) leaves the eigenvalues in d, unsorted. The matrix is read as its upper triangle row by
;; row where tred2 walks column j below the diagonal: the same numbers only when the matrix is exactly
;; symmetric, which every caller ensures (eigen.ts says so).
(module
  (memory (export "mem") 1)

  (func $at (param $base i32) (param $i i32) (result i32)
    (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 3))))
  (func $get (param $base i32) (param $i i32) (result f64)
    (f64.load (call $at (local.get $base) (local.get $i))))
  (func $set (param $base i32) (param $i i32) (param $v f64)
    (f64.store (call $at (local.get $base) (local.get $i)) (local.get $v)))

;; √(a² + b²) without the squares underflowing: the plain form where a² + b² is a normal finite
  ;; number, else the squares of a/m and b/m, m = max(|a|, |b|). The same steps as eigen.ts's hypot.
  (func $hypot (param $a f64) (param $b f64) (result f64)
    (local $s f64) (local $m f64) (local $x f64) (local $y f64)
    (local.set $s (f64.add (f64.mul (local.get $a) (local.get $a)) (f64.mul (local.get $b) (local.get $b))))
    (if (i32.and (f64.ge (local.get $s) (f64.const 0x1p-1022)) (f64.lt (local.get $s) (f64.const inf)))
      (then (return (f64.sqrt (local.get $s)))))
    (local.set $m (f64.max (f64.abs (local.get $a)) (f64.abs (local.get $b))))
    (if (f64.eq (local.get $m) (f64.const 0)) (then (return (f64.const 0))))
    (local.set $x (f64.div (local.get $a) (local.get $m)))
    (local.set $y (f64.div (local.get $b) (local.get $m)))
    (f64.mul (local.get $m)
      (f64.sqrt (f64.add (f64.mul (local.get $x) (local.get $x)) (f64.mul (local.get $y) (local.get $y))))))

  (func (export "eigenvalues") (param $n i32)
    (local $D i32) (local $E i32)
    (local.set $D (i32.shl (i32.mul (local.get $n) (local.get $n)) (i32.const 3)))
    (local.set $E (i32.add (local.get $D) (i32.shl (local.get $n) (i32.const 3))))
    (call $tridiagonalise (local.get $n) (local.get $D) (local.get $E))
    (call $ql (local.get $n) (local.get $D) (local.get $E)))

  ;; tred2 without the eigenvector accumulation: d gets the diagonal, e[1..n-1] the off-diagonal.
  (func $tridiagonalise (param $n i32) (param $D i32) (param $E i32)
    (local $i i32) (local $j i32) (local $k i32) (local $row i32)
    (local $scale f64) (local $h f64) (local $f f64) (local $g f64) (local $v f64) (local $hh f64)
    ;; d[j] = V[j][n-1]
    (local.set $j (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $j) (local.get $n)))
      (call $set (local.get $D) (local.get $j)
        (call $get (i32.const 0) (i32.sub (i32.add (i32.mul (local.get $j) (local.get $n)) (local.get $n)) (i32.const 1))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $next)))
    (local.set $i (i32.sub (local.get $n) (i32.const 1)))
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.le_s (local.get $i) (i32.const 0)))
      (local.set $scale (f64.const 0))
      (local.set $h (f64.const 0))
      ;; scale = Σ_{k<i} |d[k]|
      (local.set $k (i32.const 0))
      (block $s_done (loop $s
        (br_if $s_done (i32.ge_s (local.get $k) (local.get $i)))
        (local.set $scale (f64.add (local.get $scale) (f64.abs (call $get (local.get $D) (local.get $k)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $s)))
      (if (f64.eq (local.get $scale) (f64.const 0))
        (then
          ;; e[i] = d[i-1]; d[j] = V[j][i-1]
          (call $set (local.get $E) (local.get $i) (call $get (local.get $D) (i32.sub (local.get $i) (i32.const 1))))
          (local.set $j (i32.const 0))
          (block $z_done (loop $z
            (br_if $z_done (i32.ge_s (local.get $j) (local.get $i)))
            (call $set (local.get $D) (local.get $j)
              (call $get (i32.const 0) (i32.sub (i32.add (i32.mul (local.get $j) (local.get $n)) (local.get $i)) (i32.const 1))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $z))))
        (else
          ;; d[k] /= scale; h += d[k]²
          (local.set $k (i32.const 0))
          (block $h_done (loop $hl
            (br_if $h_done (i32.ge_s (local.get $k) (local.get $i)))
            (local.set $v (f64.div (call $get (local.get $D) (local.get $k)) (local.get $scale)))
            (call $set (local.get $D) (local.get $k) (local.get $v))
            (local.set $h (f64.add (local.get $h) (f64.mul (local.get $v) (local.get $v))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $hl)))
          (local.set $f (call $get (local.get $D) (i32.sub (local.get $i) (i32.const 1))))
          (local.set $g (f64.sqrt (local.get $h)))
          (if (f64.gt (local.get $f) (f64.const 0)) (then (local.set $g (f64.neg (local.get $g)))))
          (call $set (local.get $E) (local.get $i) (f64.mul (local.get $scale) (local.get $g)))
          (local.set $h (f64.sub (local.get $h) (f64.mul (local.get $f) (local.get $g))))
          (call $set (local.get $D) (i32.sub (local.get $i) (i32.const 1)) (f64.sub (local.get $f) (local.get $g)))
          ;; e[j] = 0 for j < i
          (local.set $j (i32.const 0))
          (block $e0_done (loop $e0
            (br_if $e0_done (i32.ge_s (local.get $j) (local.get $i)))
            (call $set (local.get $E) (local.get $j) (f64.const 0))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $e0)))
          ;; e = V·d over the leading i×i block (symmetric: each stored entry used twice)
          (local.set $j (i32.const 0))
          (block $p_done (loop $p
            (br_if $p_done (i32.ge_s (local.get $j) (local.get $i)))
            (local.set $f (call $get (local.get $D) (local.get $j)))
            (local.set $row (i32.mul (local.get $j) (local.get $n)))
            (local.set $g (f64.add (call $get (local.get $E) (local.get $j))
              (f64.mul (call $get (i32.const 0) (i32.add (local.get $row) (local.get $j))) (local.get $f))))
            (local.set $k (i32.add (local.get $j) (i32.const 1)))
            (block $pk_done (loop $pk
              (br_if $pk_done (i32.ge_s (local.get $k) (local.get $i)))
              (local.set $v (call $get (i32.const 0) (i32.add (local.get $row) (local.get $k))))
              (local.set $g (f64.add (local.get $g) (f64.mul (local.get $v) (call $get (local.get $D) (local.get $k)))))
              (call $set (local.get $E) (local.get $k)
                (f64.add (call $get (local.get $E) (local.get $k)) (f64.mul (local.get $v) (local.get $f))))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br $pk)))
            (call $set (local.get $E) (local.get $j) (local.get $g))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $p)))
          ;; e /= h; f = eᵀd
          (local.set $f (f64.const 0))
          (local.set $j (i32.const 0))
          (block $q_done (loop $q
            (br_if $q_done (i32.ge_s (local.get $j) (local.get $i)))
            (local.set $v (f64.div (call $get (local.get $E) (local.get $j)) (local.get $h)))
            (call $set (local.get $E) (local.get $j) (local.get $v))
            (local.set $f (f64.add (local.get $f) (f64.mul (local.get $v) (call $get (local.get $D) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $q)))
          ;; e -= hh·d
          (local.set $hh (f64.div (local.get $f) (f64.add (local.get $h) (local.get $h))))
          (local.set $j (i32.const 0))
          (block $w_done (loop $w
            (br_if $w_done (i32.ge_s (local.get $j) (local.get $i)))
            (call $set (local.get $E) (local.get $j)
              (f64.sub (call $get (local.get $E) (local.get $j)) (f64.mul (local.get $hh) (call $get (local.get $D) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $w)))
          ;; V -= d·eᵀ + e·dᵀ on the upper triangle of the leading block; d[j] = V[j][i-1]
          (local.set $j (i32.const 0))
          (block $u_done (loop $u
            (br_if $u_done (i32.ge_s (local.get $j) (local.get $i)))
            (local.set $f (call $get (local.get $D) (local.get $j)))
            (local.set $g (call $get (local.get $E) (local.get $j)))
            (local.set $row (i32.mul (local.get $j) (local.get $n)))
            (local.set $k (local.get $j))
            (block $uk_done (loop $uk
              (br_if $uk_done (i32.ge_s (local.get $k) (local.get $i)))
              (call $set (i32.const 0) (i32.add (local.get $row) (local.get $k))
                (f64.sub (call $get (i32.const 0) (i32.add (local.get $row) (local.get $k)))
                  (f64.add (f64.mul (local.get $f) (call $get (local.get $E) (local.get $k)))
                           (f64.mul (local.get $g) (call $get (local.get $D) (local.get $k))))))
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br $uk)))
            (call $set (local.get $D) (local.get $j)
              (call $get (i32.const 0) (i32.sub (i32.add (local.get $row) (local.get $i)) (i32.const 1))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $u)))))
      (call $set (local.get $D) (local.get $i) (local.get $h))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br $rows)))
    ;; the tridiagonal form's diagonal is on V's diagonal
    (local.set $j (i32.const 0))
    (block $g_done (loop $gd
      (br_if $g_done (i32.ge_s (local.get $j) (local.get $n)))
      (call $set (local.get $D) (local.get $j)
        (call $get (i32.const 0) (i32.add (i32.mul (local.get $j) (local.get $n)) (local.get $j))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $gd)))
    (call $set (local.get $E) (i32.const 0) (f64.const 0)))

  ;; tql2 without the eigenvectors: the eigenvalues of the tridiagonal (d, e) into d.
  (func $ql (param $n i32) (param $D i32) (param $E i32)
    (local $i i32) (local $l i32) (local $m i32) (local $iter i32)
    (local $f f64) (local $tst1 f64) (local $g f64) (local $p f64) (local $r f64) (local $h f64)
    (local $dl1 f64) (local $c f64) (local $c2 f64) (local $c3 f64) (local $el1 f64) (local $s f64) (local $s2 f64)
    (local $ei f64) (local $limit f64)
    ;; e[i-1] = e[i]; e[n-1] = 0
    (local.set $i (i32.const 1))
    (block $sh_done (loop $sh
      (br_if $sh_done (i32.ge_s (local.get $i) (local.get $n)))
      (call $set (local.get $E) (i32.sub (local.get $i) (i32.const 1)) (call $get (local.get $E) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $sh)))
    (call $set (local.get $E) (i32.sub (local.get $n) (i32.const 1)) (f64.const 0))
    (local.set $f (f64.const 0))
    (local.set $tst1 (f64.const 0))
    (local.set $l (i32.const 0))
    (block $l_done (loop $ls
      (br_if $l_done (i32.ge_s (local.get $l) (local.get $n)))
      (local.set $tst1 (f64.max (local.get $tst1)
        (f64.add (f64.abs (call $get (local.get $D) (local.get $l))) (f64.abs (call $get (local.get $E) (local.get $l))))))
      (local.set $limit (f64.mul (f64.const 0x1p-52) (local.get $tst1)))
      ;; the first m ≥ l with a negligible e[m]
      (local.set $m (local.get $l))
      (block $m_done (loop $ms
        (br_if $m_done (i32.ge_s (local.get $m) (i32.sub (local.get $n) (i32.const 1))))
        (br_if $m_done (i32.eqz (f64.gt (f64.abs (call $get (local.get $E) (local.get $m))) (local.get $limit))))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $ms)))
      (if (i32.gt_s (local.get $m) (local.get $l))
        (then
          (local.set $iter (i32.const 0))
          (block $it_done (loop $it
            ;; at most 64 sweeps per value: never reached on finite input; a guard, not a result
            (local.set $iter (i32.add (local.get $iter) (i32.const 1)))
            (br_if $it_done (i32.gt_s (local.get $iter) (i32.const 64)))
            ;; the shift
            (local.set $g (call $get (local.get $D) (local.get $l)))
            (local.set $p (f64.div
              (f64.sub (call $get (local.get $D) (i32.add (local.get $l) (i32.const 1))) (local.get $g))
              (f64.mul (f64.const 2) (call $get (local.get $E) (local.get $l)))))
            (local.set $r (call $hypot (local.get $p) (f64.const 1)))
            (if (f64.lt (local.get $p) (f64.const 0)) (then (local.set $r (f64.neg (local.get $r)))))
            (call $set (local.get $D) (local.get $l)
              (f64.div (call $get (local.get $E) (local.get $l)) (f64.add (local.get $p) (local.get $r))))
            (call $set (local.get $D) (i32.add (local.get $l) (i32.const 1))
              (f64.mul (call $get (local.get $E) (local.get $l)) (f64.add (local.get $p) (local.get $r))))
            (local.set $dl1 (call $get (local.get $D) (i32.add (local.get $l) (i32.const 1))))
            (local.set $h (f64.sub (local.get $g) (call $get (local.get $D) (local.get $l))))
            (local.set $i (i32.add (local.get $l) (i32.const 2)))
            (block $sub_done (loop $sub
              (br_if $sub_done (i32.ge_s (local.get $i) (local.get $n)))
              (call $set (local.get $D) (local.get $i) (f64.sub (call $get (local.get $D) (local.get $i)) (local.get $h)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $sub)))
            (local.set $f (f64.add (local.get $f) (local.get $h)))
            ;; the implicit QL sweep from m-1 down to l
            (local.set $p (call $get (local.get $D) (local.get $m)))
            (local.set $c (f64.const 1))
            (local.set $c2 (local.get $c))
            (local.set $c3 (local.get $c))
            (local.set $el1 (call $get (local.get $E) (i32.add (local.get $l) (i32.const 1))))
            (local.set $s (f64.const 0))
            (local.set $s2 (f64.const 0))
            (local.set $i (i32.sub (local.get $m) (i32.const 1)))
            (block $sw_done (loop $sw
              (br_if $sw_done (i32.lt_s (local.get $i) (local.get $l)))
              (local.set $c3 (local.get $c2))
              (local.set $c2 (local.get $c))
              (local.set $s2 (local.get $s))
              (local.set $ei (call $get (local.get $E) (local.get $i)))
              (local.set $g (f64.mul (local.get $c) (local.get $ei)))
              (local.set $h (f64.mul (local.get $c) (local.get $p)))
              (local.set $r (call $hypot (local.get $p) (local.get $ei)))
              (call $set (local.get $E) (i32.add (local.get $i) (i32.const 1)) (f64.mul (local.get $s) (local.get $r)))
              (local.set $s (f64.div (local.get $ei) (local.get $r)))
              (local.set $c (f64.div (local.get $p) (local.get $r)))
              (local.set $p (f64.sub (f64.mul (local.get $c) (call $get (local.get $D) (local.get $i))) (f64.mul (local.get $s) (local.get $g))))
              (call $set (local.get $D) (i32.add (local.get $i) (i32.const 1))
                (f64.add (local.get $h)
                  (f64.mul (local.get $s)
                    (f64.add (f64.mul (local.get $c) (local.get $g)) (f64.mul (local.get $s) (call $get (local.get $D) (local.get $i)))))))
              (local.set $i (i32.sub (local.get $i) (i32.const 1)))
              (br $sw)))
            ;; p = -s·s2·c3·el1·e[l] / dl1
            (local.set $p (f64.div
              (f64.mul (f64.mul (f64.mul (f64.mul (f64.neg (local.get $s)) (local.get $s2)) (local.get $c3)) (local.get $el1))
                (call $get (local.get $E) (local.get $l)))
              (local.get $dl1)))
            (call $set (local.get $E) (local.get $l) (f64.mul (local.get $s) (local.get $p)))
            (call $set (local.get $D) (local.get $l) (f64.mul (local.get $c) (local.get $p)))
            (br_if $it (f64.gt (f64.abs (call $get (local.get $E) (local.get $l))) (local.get $limit)))))))
      (call $set (local.get $D) (local.get $l) (f64.add (call $get (local.get $D) (local.get $l)) (local.get $f)))
      (call $set (local.get $E) (local.get $l) (f64.const 0))
      (local.set $l (i32.add (local.get $l) (i32.const 1)))
      (br $ls))))
)
