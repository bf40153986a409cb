#!/usr/bin/env bash
# Writes the file lists of the composite training and evaluation data (doc/training.md,
# "Composite data") from the Debian packages tuxpaint-stamps-default (photo cut-outs, RGBA
# PNGs whose alpha is an exact mask), mate-backgrounds and plasma-workspace-wallpapers
# (photographs), by this rule, which is the held-out discipline of the recipe:
#
#   cut-outs:    every PNG under /usr/share/tuxpaint/stamps, except
#                - animals/mammals/ (the evaluation category: never trained on),
#                - symbols/ and every cartoon/ or toys/ folder (drawings, not photographs),
#                - PNGs without an alpha channel (colour type other than RGBA or grey+alpha:
#                  palette images, mostly drawn road signs and flowers);
#                of those, sorted by path, every 10th (the 1st, 11th, ...) is held out as an
#                evaluation distractor; the rest train.
#   backgrounds: the photographs among the wallpapers (the illustrations are left out; the
#                list is by name below); sorted by path, every 4th (the 4th, 8th, ...) is held
#                out for the cluttered evaluation composites; the rest train.
#   evaluation:  the mammals listed in test_data/semflow/composite/mammal_keypoints.csv.
#
# Never on any list: the photos of darknet, python3-skimage, opencv-doc and sklearn.
#
# usage: scripts/make_composite_lists.sh [OUT_DIR]   (default test_data/semflow/composite)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-test_data/semflow/composite}"
STAMPS=/usr/share/tuxpaint/stamps
for f in "$STAMPS" /usr/share/backgrounds/mate/nature /usr/share/wallpapers/Path; do
  [ -e "$f" ] || { echo "make_composite_lists: $f is missing (run scripts/install_deps.sh)" >&2; exit 1; }
done
mkdir -p "$OUT/train" "$OUT/eval"
export LC_ALL=C
find "$STAMPS" -name '*.png' -type f \
  | grep -v -e "^$STAMPS/animals/mammals/" -e "^$STAMPS/symbols/" -e '/cartoon/' -e '/toys/' \
  | sort | while read -r p; do
      # PNG colour type: byte 25 of the file (IHDR); 4 = grey+alpha, 6 = RGBA.
      case "$(od -An -tu1 -j25 -N1 "$p" | tr -d ' ')" in 4|6) echo "$p" ;; esac
    done > "$OUT/all_objects.tmp"
awk 'NR % 10 != 1' "$OUT/all_objects.tmp" > "$OUT/train/objects.txt"
awk 'NR % 10 == 1' "$OUT/all_objects.tmp" > "$OUT/eval/distractors.txt"
rm -f "$OUT/all_objects.tmp"
{
  for n in Aqua Blinds Dune FreshFlower Garden GreenMeadow LadyBird RainDrops Storm TwoWings Wood YellowFlower; do
    echo "/usr/share/backgrounds/mate/nature/$n.jpg"
  done
  for n in BytheWater ColdRipple DarkestHour EveningGlow FallenLeaf Grey Kite OneStandsOut Path summer_1am; do
    echo "/usr/share/wallpapers/$n/contents/images/1920x1080.jpg"
  done
} | sort > "$OUT/all_backgrounds.tmp"
awk 'NR % 4 != 0' "$OUT/all_backgrounds.tmp" > "$OUT/train/backgrounds.txt"
awk 'NR % 4 == 0' "$OUT/all_backgrounds.tmp" > "$OUT/eval/backgrounds.txt"
rm -f "$OUT/all_backgrounds.tmp"
for f in train/objects.txt train/backgrounds.txt eval/distractors.txt eval/backgrounds.txt; do
  while read -r p; do [ -f "$p" ] || { echo "make_composite_lists: $p is missing" >&2; exit 1; }; done < "$OUT/$f"
  echo "make_composite_lists: $OUT/$f: $(wc -l < "$OUT/$f") files"
done
