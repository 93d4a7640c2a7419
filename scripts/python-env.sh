#!/usr/bin/env bash
# Creates (once) a Python virtualenv outside the clone with pinned MLflow and DVC, which the
# MLflow-interop tests use (`mlflow server`, the Python client reading runs and the registry
# back) and the DVC pipeline check uses; and moto (an S3-compatible server, `moto_server`) with
# boto3 and azure-storage-blob, which the object-store tests use to create buckets/containers. Fast when already installed: a marker file records the
# pins, and pip runs only when it differs.
#
#   PYENV=$(scripts/python-env.sh | tail -1)
#   "$PYENV/bin/mlflow" server --host 127.0.0.1 --port 5055 ...
#
# The venv path is the last line on stdout; pip's chatter goes to stderr.
set -euo pipefail

# Newest 3.x that installs: PyPI lists mlflow 3.18.0, but its mlflow-skinny==3.18.0 is not
# published, so pip resolves `mlflow>=3,<4` to 3.17.2. Plain `mlflow` (not skinny) brings what
# `mlflow server` needs (sqlalchemy, alembic, fastapi/uvicorn...). See docs/mlflow-formats.md.
# Callers should export MLFLOW_DISABLE_TELEMETRY=true and DVC_NO_ANALYTICS=1, and
# MLFLOW_ALLOW_FILE_STORE=true to use a file: store (refused without it in 3.17).
MLFLOW_VERSION=3.17.2
DVC_VERSION=3.67.1
MOTO_VERSION=5.2.5
AZURE_BLOB_VERSION=12.31.1

PYENV="${CREDITRISK_PYENV:-$HOME/.cache/creditrisk/pyenv}"
PYTHON="${PYTHON:-python3}"
MARKER="$PYENV/.creditrisk-pins"
WANT="mlflow==$MLFLOW_VERSION dvc==$DVC_VERSION moto[server]==$MOTO_VERSION azure-storage-blob==$AZURE_BLOB_VERSION"

if [[ -x "$PYENV/bin/python" && -f "$MARKER" && "$(cat "$MARKER")" == "$WANT" ]]; then
  echo "$PYENV"
  exit 0
fi

start=$SECONDS
if [[ ! -x "$PYENV/bin/python" ]]; then
  mkdir -p "$(dirname "$PYENV")"
  "$PYTHON" -m venv "$PYENV" >&2
fi
rm -f "$MARKER"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$PYENV/bin/python" -m pip install --quiet --upgrade pip >&2
# shellcheck disable=SC2086
"$PYENV/bin/python" -m pip install --quiet $WANT >&2
# Check the tools start before recording the pins.
"$PYENV/bin/python" -c 'import mlflow, dvc, moto, boto3, azure.storage.blob' >&2
"$PYENV/bin/moto_server" --help >/dev/null
"$PYENV/bin/mlflow" --version >&2
"$PYENV/bin/dvc" --version >&2
echo "$WANT" >"$MARKER"
echo "python-env: installed $WANT in $((SECONDS - start)) s" >&2
echo "$PYENV"
