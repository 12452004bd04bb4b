# Sourced by the gpu-*.sh scripts of this folder, with the script's name as $1: sets out (from
# $OUT, where the device returns files), work (a fresh scratch folder /tmp/<name>) and py (from
# $PYTHON), and prints the GPU the call got.
name="$1"
out="${OUT:-out/$name}"
work="/tmp/$name"
rm -rf "$work" && mkdir -p "$work" "$out"
py="${PYTHON:-python3}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | sed "s/^/$name: /"
