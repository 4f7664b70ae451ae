#!/usr/bin/env bash
# latency_svg.sh OUT.svg LABEL1 HIST1 [LABEL2 HIST2 ...]
# Draws latency CDFs (x: latency in ms, log scale; y: percentile) from
# rkv-bench --latency-out histograms ("usec count" per line). Missing files
# are skipped. Pure awk, no plotting library.
set -u
out=$1; shift
args=()
while [ $# -ge 2 ]; do
    [ -s "$2" ] && args+=("$1" "$2")
    shift 2
done
[ ${#args[@]} -gt 0 ] || exit 0
{
for ((i = 0; i < ${#args[@]}; i += 2)); do
    awk -v label="${args[i]}" -v idx=$((i / 2)) '
        NF == 2 && $2 > 0 { us[n] = $1; c[n] = $2; total += $2; n++ }
        END { cum = 0; for (j = 0; j < n; j++) { cum += c[j]; printf "%d\t%s\t%f\t%f\n", idx, label, us[j] / 1000.0, cum / total } }' "${args[i+1]}"
done
} | awk -F'\t' '
BEGIN { W = 760; H = 420; L = 70; R = 20; T = 40; B = 60
        split("#d62728,#1f77b4,#2ca02c,#9467bd", col, ",") }
{ s = $1; lab[s] = $2; k = cnt[s]++; x[s, k] = $3; y[s, k] = $4
  if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3; if (s + 1 > ns) ns = s + 1 }
END {
  lmin = log(min > 0.01 ? min : 0.01) / log(10); lmax = log(max) / log(10)
  lmin = int(lmin) - (lmin < int(lmin) ? 1 : 0); lmax = int(lmax) + 1
  printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
  printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
  printf "<text x=\"%d\" y=\"22\" font-size=\"15\">Write latency CDF, 50 clients, 100-byte values</text>\n", L
  pw = W - L - R; ph = H - T - B
  for (d = lmin; d <= lmax; d++) { px = L + (d - lmin) / (lmax - lmin) * pw
    printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", px, T, px, T + ph
    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g ms</text>\n", px, T + ph + 18, 10 ^ d }
  for (q = 0; q <= 4; q++) { py = T + ph - q / 4 * ph
    printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, py, L + pw, py
    printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">p%d</text>\n", L - 6, py + 4, q * 25 }
  printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">latency (log scale)</text>\n", L + pw / 2, H - 15
  for (s = 0; s < ns; s++) { pts = ""
    for (k = 0; k < cnt[s]; k++) { lx = log(x[s, k] > 0.01 ? x[s, k] : 0.01) / log(10)
      pts = pts sprintf("%.1f,%.1f ", L + (lx - lmin) / (lmax - lmin) * pw, T + ph - y[s, k] * ph) }
    printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n", col[s + 1], pts
    printf "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"4\" fill=\"%s\"/>\n", L + 10, T + 10 + s * 18, col[s + 1]
    printf "<text x=\"%d\" y=\"%d\">%s</text>\n", L + 30, T + 16 + s * 18, lab[s] }
  print "</svg>" }' > "$out"
