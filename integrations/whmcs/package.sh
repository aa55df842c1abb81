#!/usr/bin/env bash
# Builds promoset-whmcs-addon.zip the way WHMCS admins install modules: unzip it in
# the WHMCS root folder and the files land in modules/addons/promoset/.
# Usage: integrations/whmcs/package.sh [OUTPUT.zip]   (default: ./promoset-whmcs-addon.zip)
set -euo pipefail
out="$(realpath -m "${1:-promoset-whmcs-addon.zip}")"
cd "$(dirname "$0")"
rm -f "$out"
zip -q -r -X "$out" modules/addons/promoset
echo "$out"
