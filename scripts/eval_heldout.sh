#!/usr/bin/env bash
# Held-out evaluation of semantic-flow models on mammals no model here trains on
# (doc/evaluation.md, "Held-out mammals"):
#   (a)+(b) plain:     pairs of different mammals of one kind (tuxpaint-stamps' animals/mammals/,
#                      keypoints placed by hand: test_data/semflow/composite/mammal_keypoints.csv),
#                      each pasted on a plain background;
#   (a)+(b) cluttered: the same kind of pairs on crops of held-out photographs with 1-3
#                      held-out distractor cut-outs behind the animal;
#   (c) photos:        the real-photo pairs of test_data/semflow/photo_pairs/test_pairs_pf_pascal.csv.
# Scores: PCK@0.1 with the object's box (per pair), and mask transfer (label-transfer
# accuracy, IoU), both with semflow_eval.
#
# usage: scripts/eval_heldout.sh [--build-dir DIR] [--pairs N] [--pin SPEC]... MODEL.onnx|identity ...
# prints one line per model and set: "RESULT <model> <set> pck=<PCK@0.1> acc=<LT-ACC> iou=<IoU>"
# (PCK in %, accuracy and IoU in [0, 1]). --pin MODEL:SET:METRIC:VALUE:TOL (MODEL = the file
# name, e.g. semflow_effnet_lite0.onnx) fails the run (exit 1) unless |METRIC - VALUE| <= TOL;
# CTest pins the default model this way.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=build
PAIRS=40
MODELS=()
PINS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --pairs) PAIRS="$2"; shift 2 ;;
    --pin) PINS+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "eval_heldout: unknown option '$1'" >&2; exit 2 ;;
    *) MODELS+=("$1"); shift ;;
  esac
done
[ "${#MODELS[@]}" -gt 0 ] || { echo "eval_heldout: name at least one model (or identity)" >&2; exit 2; }
SFNET="$BUILD_DIR/trainer/sfnet"
EVAL="$BUILD_DIR/samples/semflow_eval"
for b in "$SFNET" "$EVAL"; do
  [ -x "$b" ] || { echo "eval_heldout: $b is not built (cmake --build $BUILD_DIR)" >&2; exit 1; }
done
C=test_data/semflow/composite
SETS="$BUILD_DIR/heldout"
# The evaluation composites are a function of the lists and the seeds: rebuild them each time.
rm -rf "$SETS"
"$SFNET" generate --composite "$C/mammal_keypoints.csv" --pairs "$PAIRS" --seed 101 --output "$SETS/plain" >&2
"$SFNET" generate --composite "$C/mammal_keypoints.csv" --pairs "$PAIRS" --seed 102 --output "$SETS/cluttered" \
  --backgrounds "$C/eval/backgrounds.txt" --distractors "$C/eval/distractors.txt" >&2

run() {  # model set-name root [masks]
  local m="$1" name="$2" root="$3" masks="${4:-}" src out pck line
  if [ "$m" = identity ]; then src=(--flow identity); else src=(--model "$m"); fi
  # semflow_eval's progress goes to a file; shown when it fails.
  if ! out=$("$EVAL" --dataset pf-pascal --root "$root" --threshold bbox --alpha 0.1 "${src[@]}" \
             ${masks:+--masks "$masks"} 2>"$SETS/semflow_eval.err"); then
    cat "$SETS/semflow_eval.err" >&2
    echo "eval_heldout: semflow_eval failed on $m, $name" >&2
    exit 1
  fi
  pck=$(echo "$out" | awk '$1 == "all" && $3 == "pair)" {print $(NF)}')
  line=$(echo "$out" | sed -n 's/.*label-transfer accuracy \([0-9.]*\), IoU \([0-9.]*\)/acc=\1 iou=\2/p')
  echo "RESULT $(basename "$m") $name pck=$pck ${line}" | tee -a "$SETS/results.txt"
}
for m in "${MODELS[@]}"; do
  run "$m" plain "$SETS/plain" "$SETS/plain/masks"
  run "$m" cluttered "$SETS/cluttered" "$SETS/cluttered/masks"
  run "$m" photos test_data/semflow/photo_pairs
done

failed=0
for pin in "${PINS[@]}"; do
  IFS=: read -r pm ps pk pv pt <<< "$pin"
  got=$(awk -v m="$pm" -v s="$ps" -v k="$pk" '$2 == m && $3 == s {
          for (i = 4; i <= NF; ++i) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$SETS/results.txt")
  if [ -z "$got" ]; then
    echo "PIN $pin: no such result" >&2; failed=1; continue
  fi
  if awk -v g="$got" -v v="$pv" -v t="$pt" 'BEGIN { d = g - v; if (d < 0) d = -d; exit !(d <= t) }'; then
    echo "PIN ok   $pm $ps $pk = $got (pinned $pv +- $pt)"
  else
    echo "PIN FAIL $pm $ps $pk = $got (pinned $pv +- $pt)"; failed=1
  fi
done
exit $failed
