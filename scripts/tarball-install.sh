#!/bin/sh
# Install obs-virtual-background from this unpacked archive into OBS Studio's per-user plugin folder.
# (This file is install.sh inside dist/obs-virtual-background-VERSION-linux-x86_64.tar.gz; its source is
# scripts/tarball-install.sh.)
#
#   ./install.sh               native OBS: ~/.config/obs-studio/plugins/obs-virtual-background
#   ./install.sh --flatpak     Flatpak OBS: ~/.var/app/com.obsproject.Studio/config/obs-studio/plugins/...
#   ./install.sh --uninstall   remove the copy (with --flatpak: the Flatpak's copy)
#
# Without --flatpak the native folder is used, unless OBS is not installed natively and the Flatpak
# (com.obsproject.Studio) is: then the Flatpak's folder. The copy is made beside the destination and
# swapped in, so re-running upgrades in place. POSIX sh: no bash needed.
set -eu

NAME=obs-virtual-background
here=$(cd "$(dirname "$0")" && pwd)
native=${XDG_CONFIG_HOME:-$HOME/.config}/obs-studio/plugins
flatpak=$HOME/.var/app/com.obsproject.Studio/config/obs-studio/plugins

die() { echo "install.sh: $*" >&2; exit 1; }
usage() { sed -n '5,12s/^# \{0,1\}//p' "$0"; }

target="" uninstall=0
for a in "$@"; do
  case "$a" in
    --flatpak) target=flatpak ;;
    --native) target=native ;;
    --uninstall) uninstall=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $a (see --help)" ;;
  esac
done

has_flatpak_obs() { command -v flatpak >/dev/null 2>&1 && flatpak info com.obsproject.Studio >/dev/null 2>&1; }
has_native_obs() { command -v obs >/dev/null 2>&1; }
if [ -z "$target" ]; then
  if ! has_native_obs && has_flatpak_obs; then
    target=flatpak
    echo "install.sh: no native OBS found, the Flatpak com.obsproject.Studio is: installing for the Flatpak"
  else
    target=native
  fi
fi
if [ "$target" = flatpak ]; then plugins=$flatpak; else plugins=$native; fi
dest=$plugins/$NAME

if [ "$uninstall" = 1 ]; then
  [ -e "$dest" ] || { echo "install.sh: nothing to remove at $dest"; exit 0; }
  rm -rf "$dest"
  echo "removed $dest"
  exit 0
fi

[ -f "$here/$NAME/bin/64bit/$NAME.so" ] || die "$here/$NAME/bin/64bit/$NAME.so missing: unpack the whole archive"
mkdir -p "$plugins"
new=$dest.new.$$ old=$dest.old.$$
rm -rf "$new" "$old"
cp -R "$here/$NAME" "$new"
if [ -e "$dest" ]; then mv "$dest" "$old"; fi
mv "$new" "$dest"
rm -rf "$old"
echo "installed $NAME for the $target OBS:"
echo "  $dest"
if [ "$target" = flatpak ]; then
  echo "Restart the Flatpak OBS (flatpak run com.obsproject.Studio) and add the filter \"Virtual Background\"."
else
  echo "Restart OBS and add the filter \"Virtual Background\" to your webcam source (Filters, +)."
fi
