;; The nearest-neighbour search of size recovery (main/dsire/pairwise.ts), whose plain-JavaScript
;; loops these two functions replace where the runtime has WebAssembly SIMD:
;;
;;   distances  all squared L2 distances between the rows of one classifier's block;
;;   nearest    per query, its k ≤ 3 nearest references, the 1-NN votes of the references-per-size
;;              ablation, and the vote tallies of whatever rules the caller describes (a rule is
;;              data: neighbours per classifier, weighting, each classifier's weight; main/dsire owns
;;              the list of variants, this file knows none of them).
;;
;; Every number they write is bit-identical to the plain loops' (blockDistances, scan, prefixVotes in
;; pairwise.ts; tally in variants.ts): test/unit/dsire/neighbours.test.ts and evaluate.test.ts check
;; that, and docs/BENCHMARKS.md has the speed-up. Built by native/wasm/build.ts (wabt 1.0.39) into
;; neighbours.wasm beside this file; test/unit/dsire/wasm-build.test.ts rebuilds it and compares bytes.
;;
;; Memory is laid out by the caller (plan() in native/neighbours.ts): byte offsets below are into the
;; one exported memory. Offsets are signed 32-bit; the caller keeps everything under 1 GiB.
(module
  (memory (export "mem") 1)

  ;; ---------------------------------------------------------------------------------------------
  ;; distances(block, n, d, out): block holds n rows of d float64, followed by at least 8 readable
  ;; bytes (an odd row's last value is read as a pair's tail even when d is even, then discarded);
  ;; out receives the n×n float64 matrix, symmetric, diagonal +0.
  ;;
  ;; Four row pairs are summed side by side, so four independent f64x2 chains keep the adder busy
  ;; where the plain loop waits on one. Each pair is still summed exactly as that loop sums it: even
  ;; coordinates in lane 0, odd ones in lane 1, an odd last coordinate added to lane 0, then
  ;; lane 0 + lane 1.
  (func (export "distances") (param $block i32) (param $n i32) (param $d i32) (param $out i32)
    (local $rowBytes i32) (local $evenBytes i32) (local $odd i32)
    (local $i i32) (local $j i32) (local $t i32)
    (local $pi i32) (local $pj0 i32) (local $pj1 i32) (local $pj2 i32) (local $pj3 i32)
    (local $x v128) (local $v v128) (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 3)))
    (local.set $evenBytes (i32.shl (i32.and (local.get $d) (i32.const -2)) (i32.const 3)))
    (local.set $odd (i32.and (local.get $d) (i32.const 1)))
    (local.set $i (i32.const 0))
    (block $rowsDone (loop $row
      (br_if $rowsDone (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $pi (i32.add (local.get $block) (i32.mul (local.get $i) (local.get $rowBytes))))
      (call $storeSymmetric (local.get $out) (local.get $n) (local.get $i) (local.get $i) (f64.const 0))
      ;; j from i + 1: four rows at a time while four are left, then one at a time
      (local.set $j (i32.add (local.get $i) (i32.const 1)))
      (block $foursDone (loop $four
        (br_if $foursDone (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $n)))
        (local.set $pj0 (i32.add (local.get $block) (i32.mul (local.get $j) (local.get $rowBytes))))
        (local.set $pj1 (i32.add (local.get $pj0) (local.get $rowBytes)))
        (local.set $pj2 (i32.add (local.get $pj1) (local.get $rowBytes)))
        (local.set $pj3 (i32.add (local.get $pj2) (local.get $rowBytes)))
        (local.set $acc0 (f64x2.splat (f64.const 0)))
        (local.set $acc1 (f64x2.splat (f64.const 0)))
        (local.set $acc2 (f64x2.splat (f64.const 0)))
        (local.set $acc3 (f64x2.splat (f64.const 0)))
        (local.set $t (i32.const 0))
        (block $pairsDone (loop $pair
          (br_if $pairsDone (i32.ge_s (local.get $t) (local.get $evenBytes)))
          (local.set $x (v128.load (i32.add (local.get $pi) (local.get $t))))
          (local.set $v (f64x2.sub (local.get $x) (v128.load (i32.add (local.get $pj0) (local.get $t)))))
          (local.set $acc0 (f64x2.add (f64x2.mul (local.get $v) (local.get $v)) (local.get $acc0)))
          (local.set $v (f64x2.sub (local.get $x) (v128.load (i32.add (local.get $pj1) (local.get $t)))))
          (local.set $acc1 (f64x2.add (f64x2.mul (local.get $v) (local.get $v)) (local.get $acc1)))
          (local.set $v (f64x2.sub (local.get $x) (v128.load (i32.add (local.get $pj2) (local.get $t)))))
          (local.set $acc2 (f64x2.add (f64x2.mul (local.get $v) (local.get $v)) (local.get $acc2)))
          (local.set $v (f64x2.sub (local.get $x) (v128.load (i32.add (local.get $pj3) (local.get $t)))))
          (local.set $acc3 (f64x2.add (f64x2.mul (local.get $v) (local.get $v)) (local.get $acc3)))
          (local.set $t (i32.add (local.get $t) (i32.const 16)))
          (br $pair)))
        (call $storeSymmetric (local.get $out) (local.get $n) (local.get $i) (local.get $j)
          (call $pairSum (local.get $acc0) (local.get $pi) (local.get $pj0) (local.get $evenBytes) (local.get $odd)))
        (call $storeSymmetric (local.get $out) (local.get $n) (local.get $i) (i32.add (local.get $j) (i32.const 1))
          (call $pairSum (local.get $acc1) (local.get $pi) (local.get $pj1) (local.get $evenBytes) (local.get $odd)))
        (call $storeSymmetric (local.get $out) (local.get $n) (local.get $i) (i32.add (local.get $j) (i32.const 2))
          (call $pairSum (local.get $acc2) (local.get $pi) (local.get $pj2) (local.get $evenBytes) (local.get $odd)))
        (call $storeSymmetric (local.get $out) (local.get $n) (local.get $i) (i32.add (local.get $j) (i32.const 3))
          (call $pairSum (local.get $acc3) (local.get $pi) (local.get $pj3) (local.get $evenBytes) (local.get $odd)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $four)))
      (block $onesDone (loop $one
        (br_if $onesDone (i32.ge_s (local.get $j) (local.get $n)))
        (local.set $pj0 (i32.add (local.get $block) (i32.mul (local.get $j) (local.get $rowBytes))))
        (local.set $acc0 (f64x2.splat (f64.const 0)))
        (local.set $t (i32.const 0))
        (block $pairsDone (loop $pair
          (br_if $pairsDone (i32.ge_s (local.get $t) (local.get $evenBytes)))
          (local.set $v (f64x2.sub (v128.load (i32.add (local.get $pi) (local.get $t))) (v128.load (i32.add (local.get $pj0) (local.get $t)))))
          (local.set $acc0 (f64x2.add (f64x2.mul (local.get $v) (local.get $v)) (local.get $acc0)))
          (local.set $t (i32.add (local.get $t) (i32.const 16)))
          (br $pair)))
        (call $storeSymmetric (local.get $out) (local.get $n) (local.get $i) (local.get $j)
          (call $pairSum (local.get $acc0) (local.get $pi) (local.get $pj0) (local.get $evenBytes) (local.get $odd)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $one)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $row))))

  ;; One pair's distance from its accumulator: lane 0 + (odd d ? the last coordinate's square : +0)
  ;; + lane 1. Adding +0 to lane 0 when d is even is exact, since lane 0 is a sum of squares from +0.
  (func $pairSum (param $acc v128) (param $pi i32) (param $pj i32) (param $evenBytes i32) (param $odd i32) (result f64)
    (local $tail f64)
    (local.set $tail (f64.sub (f64.load (i32.add (local.get $pi) (local.get $evenBytes)))
                              (f64.load (i32.add (local.get $pj) (local.get $evenBytes)))))
    (f64.add
      (f64.add (f64x2.extract_lane 0 (local.get $acc))
               (select (f64.mul (local.get $tail) (local.get $tail)) (f64.const 0) (local.get $odd)))
      (f64x2.extract_lane 1 (local.get $acc))))

  ;; out[i][j] = out[j][i] = value, for the n×n float64 matrix at out.
  (func $storeSymmetric (param $out i32) (param $n i32) (param $i i32) (param $j i32) (param $value f64)
    (f64.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 3))) (local.get $value))
    (f64.store (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $n)) (local.get $i)) (i32.const 3))) (local.get $value)))

  ;; ---------------------------------------------------------------------------------------------
  ;; nearest(task, c): classifier c's part of one search task, from the distances last computed.
  ;;
  ;; The task record, one i32 per field (native/neighbours.ts writes it from TASK_FIELDS, in this
  ;; order; a test checks every load below against that list):
  ;;    0 dist             the n×n squared distances (f64)
  ;;    4 n                rows in the table
  ;;    8 queries          i32[q] table rows to classify
  ;;   12 queryNames       i32[q] their name indices
  ;;   16 q
  ;;   20 refs             i32[] reference rows, in order (equal distances: the earlier reference wins)
  ;;   24 ends             i32[groups] group ends into refs, ascending; a group's references share a name
  ;;   28 groupNames       i32[groups]
  ;;   32 groupPrefix      i32[groups] the references-per-size prefix that ends with the group, or −1
  ;;   36 groups
  ;;   40 excludeSameName  1: leave-one-name-out, skip references with the query's name
  ;;   44 sizeOf           i32[n] size index per row
  ;;   48 sizes            distinct sizes
  ;;   52 prefixes         prefixes of the references-per-size ablation (0: none)
  ;;   56 votes            f64[(query·prefixes + prefix)·sizes + size]: 1-NN votes as a difference array
  ;;   60 voteDist         f64[same]: their summed distances, likewise
  ;;   64 classifiers
  ;;   68 k                neighbours kept per query and classifier, 1…3
  ;;   72 keepNeighbours   1: write idx and nbDist
  ;;   76 idx              i32[(query·classifiers + c)·k + rank]: reference row, −1 where none
  ;;   80 nbDist           f64[same]: distance (not squared), NaN where none
  ;;   84 tally            1: sum the rules' tallies and count the hits
  ;;   88 rules            tally rules
  ;;   92 ruleTable        the rules' records (below), 12 bytes each
  ;;   96 tallyVotes       f64[(query·rules + rule)·sizes + size]
  ;;  100 tallyDist        f64[same]: summed distances of the neighbours that voted
  ;;  104 hits             f64[classifiers]: queries whose nearest reference has their size
  ;;
  ;; A rule record (RULE_FIELDS in native/neighbours.ts):
  ;;    0 k                neighbours that vote, ≥ 1 (the task's k where that is smaller)
  ;;    4 weighted         1: inverse-distance weights normalised to one vote per classifier
  ;;    8 weights          f64[classifiers]: each classifier's votes are multiplied by its weight;
  ;;                     0: it does not vote (1 for every classifier that takes part in the paper's rule)
  ;; (read into $ruleK, $ruleWeighted, $ruleWeights)
  ;;
  ;; The query itself is never its own neighbour, nor, under excludeSameName, any reference with its
  ;; name. Those can only sit in groups of the query's name: such groups are skipped whole under
  ;; excludeSameName, and the query's own distance (the diagonal, +0) reads as +∞ while its scan runs,
  ;; so no reference pays for a check.
  (func (export "nearest") (param $task i32) (param $c i32)
    (local $dist i32) (local $n i32) (local $queries i32) (local $queryNames i32) (local $q i32)
    (local $refs i32) (local $ends i32) (local $groupNames i32) (local $groupPrefix i32) (local $groups i32)
    (local $excludeSameName i32) (local $tally i32) (local $keepNeighbours i32)
    (local $qn i32) (local $i i32) (local $name i32) (local $row i32) (local $self i32)
    (local $g i32) (local $end i32) (local $pos i32) (local $r i32) (local $dd i64)
    ;; the three nearest so far: rows, and squared distances as bits (see below)
    (local $r0 i32) (local $r1 i32) (local $r2 i32) (local $d0 i64) (local $d1 i64) (local $d2 i64)
    (local $closer0 i32) (local $closer1 i32)
    ;; references-per-size: the nearest reference held since prefix $since, and its squared distance
    (local $held i32) (local $heldD f64) (local $since i32) (local $p i32)
    (local.set $dist (i32.load offset=0 (local.get $task)))
    (local.set $n (i32.load offset=4 (local.get $task)))
    (local.set $queries (i32.load offset=8 (local.get $task)))
    (local.set $queryNames (i32.load offset=12 (local.get $task)))
    (local.set $q (i32.load offset=16 (local.get $task)))
    (local.set $refs (i32.load offset=20 (local.get $task)))
    (local.set $ends (i32.load offset=24 (local.get $task)))
    (local.set $groupNames (i32.load offset=28 (local.get $task)))
    (local.set $groupPrefix (i32.load offset=32 (local.get $task)))
    (local.set $groups (i32.load offset=36 (local.get $task)))
    (local.set $excludeSameName (i32.load offset=40 (local.get $task)))
    (local.set $keepNeighbours (i32.load offset=72 (local.get $task)))
    (local.set $tally (i32.load offset=84 (local.get $task)))
    (local.set $qn (i32.const 0))
    (block $queriesDone (loop $query
      (br_if $queriesDone (i32.ge_s (local.get $qn) (local.get $q)))
      (local.set $i (call $i32At (local.get $queries) (local.get $qn)))
      (local.set $name (call $i32At (local.get $queryNames) (local.get $qn)))
      (local.set $row (i32.add (local.get $dist) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 3))))
      (local.set $self (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3))))
      (f64.store (local.get $self) (f64.const inf))
      (local.set $d0 (i64.reinterpret_f64 (f64.const inf)))
      (local.set $d1 (local.get $d0))
      (local.set $d2 (local.get $d0))
      (local.set $r0 (i32.const -1))
      (local.set $r1 (i32.const -1))
      (local.set $r2 (i32.const -1))
      (local.set $held (i32.const -1))
      (local.set $heldD (f64.const 0))
      (local.set $since (i32.const 0))
      (local.set $pos (i32.const 0))
      (local.set $g (i32.const 0))
      (block $groupsDone (loop $group
        (br_if $groupsDone (i32.ge_s (local.get $g) (local.get $groups)))
        (local.set $end (call $i32At (local.get $ends) (local.get $g)))
        (if (i32.and (local.get $excludeSameName) (i32.eq (call $i32At (local.get $groupNames) (local.get $g)) (local.get $name)))
          (then (local.set $pos (local.get $end)))
          (else
            ;; Distances are compared as the unsigned int64 of their bits. For doubles ≥ +0 and +∞ that
            ;; order is the numeric one, and every NaN (either sign) sorts after +∞, so it is never
            ;; taken, as in the plain loop; distances are sums of squares, so −0 never occurs. The
            ;; outer test is a branch: only about one reference in seven gets past it, and inside it
            ;; the ranks are set with selects, without further branches (2.8 ns per reference
            ;; measured, against 4.1 ns all branch-free and 8 ns for the plain loop). Comparisons are
            ;; strict: an equal distance never displaces the earlier reference.
            (block $refsDone (loop $ref
              (br_if $refsDone (i32.ge_s (local.get $pos) (local.get $end)))
              (local.set $r (i32.load (i32.add (local.get $refs) (i32.shl (local.get $pos) (i32.const 2)))))
              (local.set $dd (i64.load (i32.add (local.get $row) (i32.shl (local.get $r) (i32.const 3)))))
              (if (i64.lt_u (local.get $dd) (local.get $d2))
                (then
                  (local.set $closer0 (i64.lt_u (local.get $dd) (local.get $d0)))
                  (local.set $closer1 (i64.lt_u (local.get $dd) (local.get $d1)))
                  (local.set $d2 (select (local.get $d1) (local.get $dd) (local.get $closer1)))
                  (local.set $r2 (select (local.get $r1) (local.get $r) (local.get $closer1)))
                  (local.set $d1 (select (local.get $d0) (select (local.get $dd) (local.get $d1) (local.get $closer1)) (local.get $closer0)))
                  (local.set $r1 (select (local.get $r0) (select (local.get $r) (local.get $r1) (local.get $closer1)) (local.get $closer0)))
                  (local.set $d0 (select (local.get $dd) (local.get $d0) (local.get $closer0)))
                  (local.set $r0 (select (local.get $r) (local.get $r0) (local.get $closer0)))))
              (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
              (br $ref)))))
        ;; A prefix ends with this group and its nearest reference is not the one held since prefix
        ;; $since: the held one votes for prefixes $since … p−1 (+1 at $since, −1 at p, as prefixVotes
        ;; in pairwise.ts writes it), and the new one is held from p.
        (local.set $p (call $i32At (local.get $groupPrefix) (local.get $g)))
        (if (i32.and (i32.ge_s (local.get $p) (i32.const 0)) (i32.ne (local.get $r0) (local.get $held)))
          (then
            (if (i32.ge_s (local.get $held) (i32.const 0))
              (then
                (call $prefixVote (local.get $task) (local.get $qn) (local.get $since) (local.get $held) (f64.const 1) (f64.sqrt (local.get $heldD)))
                (call $prefixVote (local.get $task) (local.get $qn) (local.get $p) (local.get $held) (f64.const -1) (f64.sqrt (local.get $heldD)))))
            (local.set $held (local.get $r0))
            (local.set $heldD (f64.reinterpret_i64 (local.get $d0)))
            (local.set $since (local.get $p))))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $group)))
      (f64.store (local.get $self) (f64.const 0))
      ;; the last neighbour held votes from $since to the last prefix
      (if (i32.ge_s (local.get $held) (i32.const 0))
        (then (call $prefixVote (local.get $task) (local.get $qn) (local.get $since) (local.get $held) (f64.const 1) (f64.sqrt (local.get $heldD)))))
      (if (local.get $tally)
        (then (call $tally (local.get $task) (local.get $c) (local.get $qn) (local.get $i)
          (local.get $r0) (local.get $r1) (local.get $r2) (local.get $d0) (local.get $d1) (local.get $d2))))
      (if (local.get $keepNeighbours)
        (then (call $keep (local.get $task) (local.get $c) (local.get $qn)
          (local.get $r0) (local.get $r1) (local.get $r2) (local.get $d0) (local.get $d1) (local.get $d2))))
      (local.set $qn (i32.add (local.get $qn) (i32.const 1)))
      (br $query))))

  ;; votes[at] += sign and voteDist[at] += sign·root at at = (query·prefixes + prefix)·sizes + the
  ;; held reference's size (adding −root is subtracting it, bit for bit).
  (func $prefixVote (param $task i32) (param $qn i32) (param $prefix i32) (param $held i32) (param $sign f64) (param $root f64)
    (local $sizeOf i32) (local $sizes i32) (local $prefixes i32) (local $votes i32) (local $voteDist i32) (local $at i32)
    (local.set $sizeOf (i32.load offset=44 (local.get $task)))
    (local.set $sizes (i32.load offset=48 (local.get $task)))
    (local.set $prefixes (i32.load offset=52 (local.get $task)))
    (local.set $votes (i32.load offset=56 (local.get $task)))
    (local.set $voteDist (i32.load offset=60 (local.get $task)))
    (local.set $at (i32.add (i32.mul (i32.add (i32.mul (local.get $qn) (local.get $prefixes)) (local.get $prefix)) (local.get $sizes))
                            (call $i32At (local.get $sizeOf) (local.get $held))))
    (call $addF64 (local.get $votes) (local.get $at) (local.get $sign))
    (call $addF64 (local.get $voteDist) (local.get $at) (f64.mul (local.get $sign) (local.get $root))))

  ;; Query qn's votes from classifier c, added to each rule's tally exactly as tally() in
  ;; main/dsire/variants.ts adds them (per query, classifier after classifier, rank after rank): with
  ;; k' = min(rule k, task k), one vote per neighbour when k' = 1 or unweighted, else weights
  ;; 1/(distance + 1e-12) normalised to sum to one vote; each vote then times the rule's weight of
  ;; classifier c (an f64; 0: the classifier does not vote, and its distances are not summed either).
  ;; Then the per-classifier hit.
  (func $tally (param $task i32) (param $c i32) (param $qn i32) (param $i i32)
               (param $r0 i32) (param $r1 i32) (param $r2 i32) (param $d0 i64) (param $d1 i64) (param $d2 i64)
    (local $sizeOf i32) (local $sizes i32) (local $k i32) (local $rules i32) (local $ruleTable i32)
    (local $tallyVotes i32) (local $tallyDist i32) (local $hits i32)
    (local $rule i32) (local $ruleK i32) (local $ruleWeighted i32) (local $ruleWeights i32) (local $weight f64) (local $v i32) (local $kr i32) (local $use1 i32) (local $use2 i32) (local $base i32)
    (local $s0 i32) (local $s1 i32) (local $s2 i32)
    (local $dist0 f64) (local $dist1 f64) (local $dist2 f64) (local $w0 f64) (local $w1 f64) (local $w2 f64)
    (local $vote0 f64) (local $vote1 f64) (local $vote2 f64) (local $total f64)
    (if (i32.lt_s (local.get $r0) (i32.const 0)) (then (return)))
    (local.set $sizeOf (i32.load offset=44 (local.get $task)))
    (local.set $sizes (i32.load offset=48 (local.get $task)))
    (local.set $k (i32.load offset=68 (local.get $task)))
    (local.set $rules (i32.load offset=88 (local.get $task)))
    (local.set $ruleTable (i32.load offset=92 (local.get $task)))
    (local.set $tallyVotes (i32.load offset=96 (local.get $task)))
    (local.set $tallyDist (i32.load offset=100 (local.get $task)))
    (local.set $hits (i32.load offset=104 (local.get $task)))
    ;; each rank's size, distance and weight, where the rank exists (ranks fill in order)
    (local.set $s0 (call $i32At (local.get $sizeOf) (local.get $r0)))
    (local.set $dist0 (f64.sqrt (f64.reinterpret_i64 (local.get $d0))))
    (local.set $w0 (f64.div (f64.const 1) (f64.add (local.get $dist0) (f64.const 1e-12))))
    (if (i32.ge_s (local.get $r1) (i32.const 0))
      (then
        (local.set $s1 (call $i32At (local.get $sizeOf) (local.get $r1)))
        (local.set $dist1 (f64.sqrt (f64.reinterpret_i64 (local.get $d1))))
        (local.set $w1 (f64.div (f64.const 1) (f64.add (local.get $dist1) (f64.const 1e-12))))))
    (if (i32.ge_s (local.get $r2) (i32.const 0))
      (then
        (local.set $s2 (call $i32At (local.get $sizeOf) (local.get $r2)))
        (local.set $dist2 (f64.sqrt (f64.reinterpret_i64 (local.get $d2))))
        (local.set $w2 (f64.div (f64.const 1) (f64.add (local.get $dist2) (f64.const 1e-12))))))
    (local.set $v (i32.const 0))
    (block $rulesDone (loop $eachRule
      (br_if $rulesDone (i32.ge_s (local.get $v) (local.get $rules)))
      (local.set $rule (i32.add (local.get $ruleTable) (i32.mul (local.get $v) (i32.const 12))))
      (local.set $ruleK (i32.load offset=0 (local.get $rule)))
      (local.set $ruleWeighted (i32.load offset=4 (local.get $rule)))
      (local.set $ruleWeights (i32.load offset=8 (local.get $rule)))
      (local.set $weight (f64.load (i32.add (local.get $ruleWeights) (i32.shl (local.get $c) (i32.const 3)))))
      (if (f64.ne (local.get $weight) (f64.const 0))
        (then
          (local.set $kr (select (local.get $ruleK) (local.get $k) (i32.lt_s (local.get $ruleK) (local.get $k))))
          (local.set $use1 (i32.and (i32.gt_s (local.get $kr) (i32.const 1)) (i32.ge_s (local.get $r1) (i32.const 0))))
          (local.set $use2 (i32.and (i32.gt_s (local.get $kr) (i32.const 2)) (i32.ge_s (local.get $r2) (i32.const 0))))
          (local.set $vote0 (f64.const 1))
          (local.set $vote1 (f64.const 1))
          (local.set $vote2 (f64.const 1))
          (if (i32.and (local.get $ruleWeighted) (i32.gt_s (local.get $kr) (i32.const 1)))
            (then
              (local.set $total (local.get $w0))
              (if (local.get $use1) (then (local.set $total (f64.add (local.get $total) (local.get $w1)))))
              (if (local.get $use2) (then (local.set $total (f64.add (local.get $total) (local.get $w2)))))
              (local.set $vote0 (f64.div (local.get $w0) (local.get $total)))
              (local.set $vote1 (f64.div (local.get $w1) (local.get $total)))
              (local.set $vote2 (f64.div (local.get $w2) (local.get $total)))))
          (local.set $vote0 (f64.mul (local.get $weight) (local.get $vote0)))
          (local.set $vote1 (f64.mul (local.get $weight) (local.get $vote1)))
          (local.set $vote2 (f64.mul (local.get $weight) (local.get $vote2)))
          ;; this rule's tally of query qn starts at (qn·rules + v)·sizes
          (local.set $base (i32.mul (i32.add (i32.mul (local.get $qn) (local.get $rules)) (local.get $v)) (local.get $sizes)))
          (call $addF64 (local.get $tallyVotes) (i32.add (local.get $base) (local.get $s0)) (local.get $vote0))
          (call $addF64 (local.get $tallyDist) (i32.add (local.get $base) (local.get $s0)) (local.get $dist0))
          (if (local.get $use1)
            (then
              (call $addF64 (local.get $tallyVotes) (i32.add (local.get $base) (local.get $s1)) (local.get $vote1))
              (call $addF64 (local.get $tallyDist) (i32.add (local.get $base) (local.get $s1)) (local.get $dist1))))
          (if (local.get $use2)
            (then
              (call $addF64 (local.get $tallyVotes) (i32.add (local.get $base) (local.get $s2)) (local.get $vote2))
              (call $addF64 (local.get $tallyDist) (i32.add (local.get $base) (local.get $s2)) (local.get $dist2))))))
      (local.set $v (i32.add (local.get $v) (i32.const 1)))
      (br $eachRule)))
    ;; per-classifier accuracy: the nearest reference has the query's size
    (if (i32.eq (local.get $s0) (call $i32At (local.get $sizeOf) (local.get $i)))
      (then (call $addF64 (local.get $hits) (local.get $c) (f64.const 1)))))

  ;; Query qn's k nearest from classifier c into idx / nbDist: rows, and distances (not squared);
  ;; −1 and NaN where fewer references were eligible.
  (func $keep (param $task i32) (param $c i32) (param $qn i32)
              (param $r0 i32) (param $r1 i32) (param $r2 i32) (param $d0 i64) (param $d1 i64) (param $d2 i64)
    (local $classifiers i32) (local $k i32) (local $idx i32) (local $nbDist i32) (local $at i32)
    (local.set $classifiers (i32.load offset=64 (local.get $task)))
    (local.set $k (i32.load offset=68 (local.get $task)))
    (local.set $idx (i32.load offset=76 (local.get $task)))
    (local.set $nbDist (i32.load offset=80 (local.get $task)))
    (local.set $at (i32.mul (i32.add (i32.mul (local.get $qn) (local.get $classifiers)) (local.get $c)) (local.get $k)))
    (call $keepRank (local.get $idx) (local.get $nbDist) (local.get $at) (local.get $r0) (local.get $d0))
    (if (i32.gt_s (local.get $k) (i32.const 1))
      (then (call $keepRank (local.get $idx) (local.get $nbDist) (i32.add (local.get $at) (i32.const 1)) (local.get $r1) (local.get $d1))))
    (if (i32.gt_s (local.get $k) (i32.const 2))
      (then (call $keepRank (local.get $idx) (local.get $nbDist) (i32.add (local.get $at) (i32.const 2)) (local.get $r2) (local.get $d2)))))

  (func $keepRank (param $idx i32) (param $nbDist i32) (param $at i32) (param $r i32) (param $d i64)
    (i32.store (i32.add (local.get $idx) (i32.shl (local.get $at) (i32.const 2))) (local.get $r))
    (f64.store (i32.add (local.get $nbDist) (i32.shl (local.get $at) (i32.const 3)))
      (select (f64.const nan) (f64.sqrt (f64.reinterpret_i64 (local.get $d))) (i32.lt_s (local.get $r) (i32.const 0)))))

  ;; the i32 at index `index` of the array at byte offset `base`
  (func $i32At (param $base i32) (param $index i32) (result i32)
    (i32.load (i32.add (local.get $base) (i32.shl (local.get $index) (i32.const 2)))))

  ;; f64 array at byte offset `base`: [index] += value
  (func $addF64 (param $base i32) (param $index i32) (param $value f64)
    (local $at i32)
    (local.set $at (i32.add (local.get $base) (i32.shl (local.get $index) (i32.const 3))))
    (f64.store (local.get $at) (f64.add (f64.load (local.get $at)) (local.get $value))))
)
