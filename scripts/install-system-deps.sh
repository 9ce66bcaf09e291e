#!/usr/bin/env bash
# Installs the Debian packages mobilessd needs on a machine without a GPU:
#  - a software Vulkan driver Dawn accepts (lavapipe from Mesa >= 25, only in bookworm-backports;
#    bookworm's own Mesa 22.3 lavapipe is rejected by Dawn),
#  - chromium (browser tests, TFLite reference runtime, SwiftShader),
#  - ffmpeg (the `video` command).
# The backports source is derived from the machine's existing Debian source entry (same mirror),
# so no registry host name is written into the repository.
set -euo pipefail

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(vulkan chromium ffmpeg)

have_lavapipe() {
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || return 1
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || echo 0)
  dpkg --compare-versions "$v" ge 25 2>/dev/null
}

need=()
for w in "${want[@]}"; do
  case "$w" in
    vulkan) have_lavapipe || need+=(vulkan) ;;
    chromium) command -v chromium >/dev/null 2>&1 || need+=(chromium) ;;
    ffmpeg) command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg) ;;
    *) echo "install-system-deps: unknown component '$w'" >&2; exit 2 ;;
  esac
done
[ ${#need[@]} -gt 0 ] || exit 0

if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps: missing ${need[*]}; run this script as root (apt-get) or install them yourself." >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

add_backports() {
  local codename src
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || { echo "install-system-deps: cannot tell the Debian release" >&2; return 1; }
  if grep -rqs "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then return 0; fi
  src=""
  # deb822 entries: take the URIs of the stanza that carries the plain release suite.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    src=$(awk -v c="$codename" '
      /^URIs:/ {u=$2} /^Suites:/ {for(i=2;i<=NF;i++) if($i==c) found=1}
      /^$/ {if(found && u!=""){print u; exit} found=0; u=""}
      END {if(found && u!="") print u}' "$f")
    [ -n "$src" ] && break
  done
  # one-line entries
  if [ -z "$src" ]; then
    src=$(grep -hsE "^deb [^#]*\s${codename}\s" /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | grep -v security | head -1 | awk '{for(i=2;i<=NF;i++) if($i !~ /^\[/){print $i; exit}}')
  fi
  [ -n "$src" ] || { echo "install-system-deps: no Debian source entry to derive backports from" >&2; return 1; }
  printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$src" "$codename" > /etc/apt/sources.list.d/mobilessd-backports.sources
}

pkgs=()
for n in "${need[@]}"; do
  case "$n" in
    vulkan) add_backports ;;
    chromium) pkgs+=(chromium) ;;
    ffmpeg) pkgs+=(ffmpeg) ;;
  esac
done
apt-get update -qq
if [[ " ${need[*]} " == *" vulkan "* ]]; then
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  apt-get install -y -qq --no-install-recommends -t "${codename}-backports" mesa-vulkan-drivers libvulkan1 >/dev/null
fi
if [ ${#pkgs[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
echo "install-system-deps: installed ${need[*]}"
