#!/usr/bin/env bash
# Makes docs/img/bulletin-zh.png, the README's picture of the monthly bulletin, from a real
# build: a development server on a fresh data directory, a few hundred varied reports from
# three units, `fenghuo bulletin build` of the current month, `fenghuo bulletin get` over
# mTLS as a unit, `bulletin verify`, then page 1 of the PDF at 60 dpi (pdftoppm).
# Needs target/debug/fenghuo, a Chinese font and poppler-utils (as .ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."

fenghuo=("${CARGO_TARGET_DIR:-target}/debug/fenghuo")
work=$(mktemp -d)
"${fenghuo[@]}" serve --listen 127.0.0.1:0 --taxii-listen 127.0.0.1:0 --data-dir "$work/data" 2>"$work/serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do grep -q "fenghuo listening on" "$work/serve.log" && break; sleep 0.1; done
addr=$(sed -n 's/^fenghuo listening on \([^ ]*\).*/\1/p' "$work/serve.log")
connect=(--endpoint "https://localhost:${addr##*:}" --data-dir "$work/data")

# The CLI's templates of every Art. 2 category, varied: addresses, families, ports, sizes.
for c in malicious-resource malicious-program hazard incident other; do
    "${fenghuo[@]}" threat template --category "$c" --format jsonl
done >"$work/templates.jsonl"
python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
templates = {}
for line in open(f"{work}/templates.jsonl"):
    t = json.loads(line)
    templates[t["category"]] = t
families = ["Mirai", "Gafgyt", "Emotet", "Zeus", "Conficker", "Ramnit"]
ports = [8080, 6667, 443, 23, 1883, 53]
countries = ["US", "KR", "HK", "NL", "DE"]
prefixes = ["58.60", "61.135", "114.114", "202.96", "218.30", "221.4"]
for unit, n in [("vendor-bj", 120), ("telecom-gd", 80), ("registrar-bj", 40)]:
    with open(f"{work}/{unit}.jsonl", "w") as out:
        for i in range(n):
            k = i * 7 + len(unit)
            pick = ["malicious-resource"] * 5 + ["malicious-program"] * 3 + ["incident"] * 2 + ["hazard", "other"]
            r = dict(templates[pick[k % len(pick)]])
            if r["category"] == "malicious-resource":
                r["value"] = f"{prefixes[k % 6]}.{k % 250}.{(k // 250) % 250 + 1}"
                r["family"] = families[k % 6]
                r["port"] = ports[k % 6]
                r["bot_count"] = 10 ** (k % 7)
                r["server_country"] = countries[k % 5] if k % 3 else ""
                r["domains"] = [f"cc{k}.{unit}.evil-example.com"]
            elif r["category"] == "malicious-program":
                r["sha256"] = f"{k:064x}"
                r["family"] = families[(k + 2) % 6]
            elif r["category"] == "incident":
                r["kind"] = ["defacement", "host-controlled"][k % 2]
                r["asset"] = f"domain:www{k}.{['gov-example.cn', 'example.com.cn'][k % 2]}" if k % 2 == 0 else f"ip:{prefixes[k % 6]}.9.{k % 250}"
            elif r["category"] == "hazard":
                r["cve_id"] = f"CVE-2026-{1000 + k}"
            else:
                r["title"] = f"{r['title']} #{k}"
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
EOF
for unit in vendor-bj telecom-gd registrar-bj; do
    "${fenghuo[@]}" threat submit "$work/$unit.jsonl" "${connect[@]}" --org "$unit" >/dev/null
done

month=$(TZ=Asia/Shanghai date +%Y-%m)  # the month the server counts today in
"${fenghuo[@]}" bulletin build "$month" --data-dir "$work/data"
"${fenghuo[@]}" bulletin get "$month" --lang zh-CN --out "$work/bulletin" "${connect[@]}" --org telecom-gd
"${fenghuo[@]}" bulletin verify "$work/bulletin" --ca "$work/data/pki/ca.crt"
mkdir -p docs/img
pdftoppm -png -r 60 -f 1 -l 1 -singlefile "$work/bulletin/bulletin.pdf" docs/img/bulletin-zh
ls -l docs/img/bulletin-zh.png
