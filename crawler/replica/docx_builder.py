"""The DOCX attachment of the Ganzhou plan: its task table as a Word document, byte-for-byte stable."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

from docx import Document

from crawler.replica.seeds import GanzhouPlan

_ZIP_TIME = (2022, 3, 15, 10, 20, 0)


def _stable_zip(data: bytes) -> bytes:
    """Re-pack a zip with fixed member timestamps so equal content gives equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            dst.writestr(member, src.read(info.filename))
    return out.getvalue()


def task_table_docx(plan: GanzhouPlan, written: datetime) -> bytes:
    """附件 重点任务清单责任分工表 as DOCX bytes: heading paragraphs and one table.

    The table has the seed's header row once, section rows (一、重点任务 …) as one merged cell, and
    the 工作任务 cells of consecutive tasks merged vertically as in the printed document. The same
    ``plan`` and ``written`` always give the same bytes.
    """
    doc = Document()
    props = doc.core_properties
    props.title = plan.attachment_title
    props.author = props.last_modified_by = "赣州市人民政府办公室"
    props.created = props.modified = written.replace(tzinfo=None)
    props.revision = 1
    doc.add_paragraph("附件")
    doc.add_heading(plan.attachment_title, level=1)
    header = plan.table.header
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
    group_start = None  # row index whose 工作任务 cell later continuation rows merge into
    for row in plan.table.rows:
        cells = table.add_row().cells
        if len(row) == 1:
            merged = cells[0].merge(cells[-1])
            merged.text = row[0]
            group_start = None
            continue
        for cell, text in zip(cells, row, strict=True):
            if text:  # an empty cell keeps its bare paragraph, so merging adds no blank lines
                cell.text = text
        index = len(table.rows) - 1
        if row[1] or group_start is None:
            group_start = index
        else:
            table.cell(group_start, 1).merge(table.cell(index, 1))
    buf = io.BytesIO()
    doc.save(buf)
    return _stable_zip(buf.getvalue())
