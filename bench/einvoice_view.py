"""What rendering an e-invoice costs beside reading it at publishing.

For each file (our fixtures and the shared real samples when present): the median time
of `read_structured` (what publishing does to a file), of the readable view made from
its XML (`view_of_xml`, what the page costs) and of the PDF made from it (`pdf_of_xml`).
Rendering the PDF at publishing would add the last column to every structured document;
done on demand, publishing pays nothing.

    .venv/bin/python bench/einvoice_view.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from iportal.documents.einvoice_view import pdf_of_xml, view_of_xml
from iportal.documents.publishing.einvoice import read_structured

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = (ROOT / "tests" / "documents" / "fixtures", ROOT.parent / "shared" / "einvoice-samples")


def median_ms(function: Callable[..., Any], *args: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    repeat = parser.parse_args().repeat
    print(f"{'file':48} {'publish read':>12} {'view':>8} {'PDF':>8} {'PDF/read':>9}")
    for folder in FOLDERS:
        for path in sorted(folder.glob("*")):
            if path.suffix not in (".xml", ".pdf"):
                continue
            data = path.read_bytes()
            invoice = read_structured(data)
            if invoice is None:
                continue
            pdf_of_xml(invoice.xml, "fr")  # fonts and catalogues loaded once
            read = median_ms(read_structured, data, repeat=repeat)
            view = median_ms(view_of_xml, invoice.xml, "fr", repeat=repeat)
            pdf = median_ms(pdf_of_xml, invoice.xml, "fr", repeat=repeat)
            name = path.name[:48]
            print(f"{name:48} {read:10.1f}ms {view:6.1f}ms {pdf:6.1f}ms {pdf / read:8.1f}×")


if __name__ == "__main__":
    main()
