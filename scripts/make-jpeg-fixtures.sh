#!/bin/sh
# Regenerates test/fixtures/jpeg/: JPEGs of the kinds jpeg-js's encoder cannot write (progressive with
# successive approximation, restart intervals, every chroma subsampling, greyscale, RGB, 16-bit quantisation
# tables, optimised Huffman tables, sequential files coded in several scans), made by libjpeg-turbo's cjpeg
# and jpegtran from crops of samples/dog.jpg at sizes that are not multiples of 8 or 16.
# test/jpeg_pixels.test.ts decodes each with our decoder and with jpeg-js and requires identical RGBA.
#   sh scripts/make-jpeg-fixtures.sh      (needs ffmpeg, cjpeg and jpegtran: apt-get install ffmpeg libjpeg-turbo-progs)
set -eu
cd "$(dirname "$0")/.."
out=test/fixtures/jpeg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f "$out"/*.jpg
mkdir -p "$out"
ffmpeg -loglevel error -i samples/dog.jpg -vf crop=77:53:300:200 -y "$tmp/small.ppm"
ffmpeg -loglevel error -i samples/dog.jpg -vf crop=203:131:150:120 -y "$tmp/large.ppm"

for sample in 1x1 2x1 1x2 2x2 4x1 1x4 3x1 4x2 2x2,1x1,1x1 1x1,2x2,1x1 2x1,1x2,1x1; do
  name=$(echo "$sample" | tr ',' '_')
  cjpeg -quality 85 -sample "$sample" "$tmp/small.ppm" > "$out/s$name-baseline.jpg"
  cjpeg -quality 85 -sample "$sample" -progressive "$tmp/small.ppm" > "$out/s$name-progressive.jpg"
done
cjpeg -quality 90 -sample 2x2 -restart 1 "$tmp/large.ppm" > "$out/420-restart-1row.jpg"
cjpeg -quality 90 -sample 2x2 -restart 5B "$tmp/large.ppm" > "$out/420-restart-5blocks.jpg"
cjpeg -quality 90 -sample 1x1 -progressive -restart 1 "$tmp/large.ppm" > "$out/444-progressive-restart-1row.jpg"
cjpeg -quality 75 -grayscale "$tmp/large.ppm" > "$out/grey-baseline.jpg"
cjpeg -quality 75 -grayscale -progressive "$tmp/large.ppm" > "$out/grey-progressive.jpg"
cjpeg -quality 75 -grayscale -restart 7B "$tmp/small.ppm" > "$out/grey-restart-7blocks.jpg"
# One component with 2x2 sampling: its MCU grid pads a block row and column that hold no samples.
cjpeg -quality 75 -grayscale -sample 2x2 -restart 1B "$tmp/small.ppm" > "$out/grey-2x2-restart-1block.jpg"
cjpeg -quality 80 -rgb "$tmp/small.ppm" > "$out/rgb-baseline.jpg"
cjpeg -quality 80 -rgb -progressive "$tmp/small.ppm" > "$out/rgb-progressive.jpg"
cjpeg -quality 3 "$tmp/large.ppm" > "$out/16bit-quant-tables.jpg"
cjpeg -quality 97 -optimize "$tmp/large.ppm" > "$out/optimized-huffman.jpg"
# Sequential, one scan per component (non-interleaved), and the luma split into two spectral bands' worth of scans
# is progressive-only, so this is the several-scan sequential case.
printf '0;\n1;\n2;\n' > "$tmp/scans.txt"
cjpeg -quality 85 -sample 2x2 -scans "$tmp/scans.txt" "$tmp/large.ppm" > "$out/420-sequential-3-scans.jpg"
printf '0: 0 0 0 1;\n1 2: 0 0 0 0;\n0: 1 63 0 2;\n0: 1 63 2 1;\n0: 1 63 1 0;\n1: 1 63 0 0;\n2: 1 63 0 0;\n0: 0 0 1 0;\n' > "$tmp/prog.txt"
cjpeg -quality 85 -sample 2x1 -scans "$tmp/prog.txt" "$tmp/large.ppm" > "$out/422-progressive-custom-scans.jpg"
# Lossless transcodes (the same coefficients): each must decode to the same pixels as its baseline source.
# jpeg-js itself fails on the first two (its last restart interval runs into the MCU padding).
jpegtran -progressive -restart 2 "$out/s2x2-baseline.jpg" > "$out/transcoded-progressive-restart-2rows--s2x2-baseline.jpg"
jpegtran -progressive -restart 3B "$out/420-restart-5blocks.jpg" > "$out/transcoded-progressive-restart-3blocks--420-restart-5blocks.jpg"
jpegtran -progressive -restart 2B "$out/grey-2x2-restart-1block.jpg" > "$out/transcoded-progressive-restart-2blocks--grey-2x2-restart-1block.jpg"
jpegtran -progressive "$out/s4x2-baseline.jpg" > "$out/transcoded-progressive--s4x2-baseline.jpg"
jpegtran -restart 1B "$out/s2x1_1x2_1x1-progressive.jpg" > "$out/transcoded-restart-1block--s2x1_1x2_1x1-progressive.jpg"
ls -l "$out" | awk '{ s += $5 } END { print NR - 1 " files, " s " bytes" }'
