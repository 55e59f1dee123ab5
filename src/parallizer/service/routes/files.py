"""The files API the Parallax web app uses: the scope's tree, a file's text, saving a file.

Confined like every other path: the scope inside an allowed root, every file inside the
scope, symlinks resolved (see `service.files`). The work runs in a thread."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ...code import editor_language
from .. import files
from ..runs import ServiceDep
from ..schemas import AUTH_RESPONSES, ErrorBody, InvalidBody

router = APIRouter(prefix="/files", tags=["files"])

FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    403: {"model": ErrorBody, "description": "scope_root or path outside the allowed roots"},
    404: {"model": ErrorBody, "description": "no such file"},
    409: {"model": ErrorBody, "description": "path is a directory (save)"},
    413: {"model": ErrorBody, "description": "file or content over the size limit"},
    415: {"model": ErrorBody, "description": "binary or non-UTF-8 file (read)"},
    422: {"model": InvalidBody, "description": "malformed body or path"},
}


class TreeNode(BaseModel):
    name: str
    path: str = Field(description="absolute path on the server")
    type: Literal["file", "directory"]
    children: list[TreeNode] | None = Field(
        default=None, description="directories only; null when past max_depth"
    )


class FileContentRequest(BaseModel):
    path: str = Field(max_length=4096, description="absolute, or relative to scope_root")
    scope_root: str = Field(max_length=4096)


class FileContent(BaseModel):
    content: str
    language: str = Field(description="the editor's language id (Monaco), from the file name")
    path: str = Field(description="the path as the client gave it")


class FileSaveRequest(FileContentRequest):
    content: str


class FileSaved(BaseModel):
    status: Literal["success"] = "success"
    message: str
    bytes: int = Field(description="UTF-8 bytes written")


@router.get("/tree", response_model=TreeNode, responses=FILE_RESPONSES, summary="The scope's tree")
async def file_tree(
    svc: ServiceDep,
    scope_root: Annotated[str, Query(max_length=4096)],
    max_depth: Annotated[int, Query(ge=0, le=32)] = 10,
) -> JSONResponse:
    """Directories first, then files, each by name; hidden files, `.git`, `node_modules`,
    virtualenvs and build output left out; symbolic links leading out of the scope too."""
    roots = svc.settings.allowed_root_paths

    def work() -> dict[str, object]:
        return files.tree(files.scope_dir(scope_root, roots), max_depth).to_wire()

    return JSONResponse(await asyncio.to_thread(work))


@router.post(
    "/content", response_model=FileContent, responses=FILE_RESPONSES, summary="A file's text"
)
async def file_content(body: FileContentRequest, svc: ServiceDep) -> FileContent:
    """UTF-8 text only: a binary or non-UTF-8 file is 415; over the document limit, 413."""
    roots, limit = svc.settings.allowed_root_paths, svc.settings.max_document_bytes

    def work() -> FileContent:
        path = files.inside_scope(body.path, files.scope_dir(body.scope_root, roots))
        text = files.read_text(path, limit)
        return FileContent(content=text, language=editor_language(path.name), path=body.path)

    return await asyncio.to_thread(work)


@router.post("/save", response_model=FileSaved, responses=FILE_RESPONSES, summary="Save a file")
async def file_save(body: FileSaveRequest, svc: ServiceDep) -> FileSaved:
    """Atomic (a temporary file beside it, renamed over it); the file keeps its mode;
    missing parent folders are created inside the scope; a directory is never replaced."""
    roots, limit = svc.settings.allowed_root_paths, svc.settings.max_document_bytes

    def work() -> int:
        scope = files.scope_dir(body.scope_root, roots)
        return files.save_text(files.inside_scope(body.path, scope), scope, body.content, limit)

    written = await asyncio.to_thread(work)
    return FileSaved(message=f"saved {body.path}", bytes=written)
