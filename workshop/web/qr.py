"""QR codes of join links, as SVG (crisp on a projector, no image library needed)."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from flask import Response


def qr_svg(url: str) -> Response:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=20, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    response = Response(buffer.getvalue(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
