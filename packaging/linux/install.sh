#!/bin/sh
# Install (or remove) this frozen SpaceSync for the current user, without root:
#   ./install.sh             copy into ~/.local/lib/spacesync, add the commands to
#                            ~/.local/bin and the menu entry, icons and AppStream data
#   ./install.sh --uninstall remove all of that again (your library is kept:
#                            ~/.local/share/SpaceSync)
# PREFIX=/some/where ./install.sh installs below another prefix instead of ~/.local.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
app_id=org.spacesync.SpaceSync
libdir=$prefix/lib/spacesync
bindir=$prefix/bin
share=$prefix/share

remove() {
    rm -f "$bindir/spacesync" "$bindir/spacesync-gui"
    rm -f "$share/applications/$app_id.desktop" "$share/metainfo/$app_id.metainfo.xml"
    for icon in "$share"/icons/hicolor/*/apps/spacesync.png \
        "$share/icons/hicolor/scalable/apps/spacesync.svg"; do
        rm -f "$icon"
    done
    rm -rf "$libdir"
}

refresh() {
    command -v update-desktop-database >/dev/null 2>&1 &&
        update-desktop-database -q "$share/applications" 2>/dev/null || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 &&
        gtk-update-icon-cache -q -t "$share/icons/hicolor" 2>/dev/null || true
}

if [ "${1:-}" = --uninstall ]; then
    remove
    refresh
    echo "SpaceSync removed from $prefix (your library in ~/.local/share/SpaceSync is kept)"
    exit 0
fi

remove
mkdir -p "$libdir" "$bindir" "$share/applications" "$share/metainfo"
cp -a "$here/spacesync" "$here/spacesync-gui" "$here/_internal" "$libdir/"
ln -sf "$libdir/spacesync" "$bindir/spacesync"
ln -sf "$libdir/spacesync-gui" "$bindir/spacesync-gui"
# The menu entry names the program by its full path: ~/.local/bin is not always on the
# PATH of a desktop session.
sed -e "s|^Exec=spacesync-gui|Exec=$libdir/spacesync-gui|" \
    -e "s|^TryExec=spacesync-gui|TryExec=$libdir/spacesync-gui|" \
    "$here/share/applications/$app_id.desktop" >"$share/applications/$app_id.desktop"
cp "$here/share/metainfo/$app_id.metainfo.xml" "$share/metainfo/"
cp -R "$here/share/icons" "$share/"
refresh
echo "SpaceSync installed in $libdir; start it from the menu or with $bindir/spacesync-gui"
