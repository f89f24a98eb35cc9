"""xCAT's wire format: ``<xcatrequest>`` documents in, ``<xcatresponse>`` out.

Requests are parsed with defusedxml (no entities, no DTDs, no external
references) after size and depth checks, so hostile input costs bounded
work.  The encoder writes exactly the shapes xCAT's client understands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from xml.etree.ElementTree import Element, ParseError, SubElement, fromstring, tostring

from xcatpy.errors import XcatError
from xcatpy.protocol import Request, Response

MAX_REQUEST_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 16
SERVERDONE = b"<xcatresponse><serverdone></serverdone></xcatresponse>\n"
_REQ_END = b"</xcatrequest>"
# Characters XML 1.0 cannot carry; they are replaced rather than dropped silently.
_BAD_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class WireError(XcatError):
    """A request document that cannot be accepted."""


# Text that needs neither escaping nor cleaning (&, <, >, CR and the characters above).
_PLAIN = re.compile("[^&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*").fullmatch


def _clean(text: str) -> str:
    return _BAD_XML_CHARS.sub("?", text)


# A start, end or empty-element tag; quoted attribute values may hold '>' and '/'.
# Possessive, so a tag that never ends costs one scan, not one per character.
_TAG = re.compile(rb"""<(/?)[A-Za-z_:\x80-\xff](?:[^<>"'/]++|"[^<"]*+"|'[^<']*+'|/(?!>))*+(/?)>""")


def _depth_ok(data: bytes) -> bool:
    depth = 0
    for m in _TAG.finditer(data):
        if m.group(2):
            continue  # <empty/> opens and closes: our encoder writes <arg /> for ""
        depth += -1 if m.group(1) else 1
        if depth > MAX_DEPTH:
            return False
    return True


def split_request(buffer: bytes) -> tuple[bytes | None, bytes]:
    """One complete request document from the front of ``buffer``, and the rest.

    Whitespace before a document (the newline that ended the one before it)
    belongs to no document: an XML declaration must come first in its own.
    """
    end = buffer.find(_REQ_END)
    if end < 0:
        if len(buffer) > MAX_REQUEST_BYTES:
            raise WireError("request too large")
        return None, buffer
    end += len(_REQ_END)
    return buffer[:end].lstrip(), buffer[end:]


def decode_request(doc: bytes) -> Request:
    """Parse one ``<xcatrequest>`` document; WireError for anything unusable."""
    if len(doc) > MAX_REQUEST_BYTES:
        raise WireError("request too large")
    if not _depth_ok(doc):
        raise WireError("request nested too deeply")
    from defusedxml import ElementTree as SafeET  # not on a command's start-up path
    from defusedxml.common import DefusedXmlException

    try:
        root = SafeET.fromstring(doc, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise WireError(f"malformed request: {exc}") from None
    if root.tag != "xcatrequest":
        raise WireError(f"expected <xcatrequest>, got <{root.tag}>")

    def texts(tag: str) -> list[str]:
        return [(el.text or "") for el in root.findall(tag)]

    commands = texts("command")
    if len(commands) != 1 or not commands[0].strip():
        raise WireError("request needs exactly one <command>")
    env: dict[str, str] = {}
    for el in root.findall("environment"):
        for var in el:
            env[var.tag] = var.text or ""
    noderange = texts("noderange")
    nodes = texts("node")
    stdin = texts("stdin")
    cwd = texts("cwd")
    ctype = texts("clienttype")
    user = texts("username")
    req = Request(
        command=commands[0].strip(),
        noderange=noderange[0] if noderange else (",".join(nodes) if nodes else None),
        args=texts("arg"),
        stdin=stdin[0] if stdin else None,
        cwd=cwd[0] if cwd else None,
        environment=env,
        clienttype=ctype[0] if ctype else "cli",
    )
    if user:
        req.environment["_requested_username"] = user[0]
    return req


def encode_request(req: Request) -> bytes:
    root = Element("xcatrequest")
    for arg in req.args:
        SubElement(root, "arg").text = _clean(arg)
    SubElement(root, "clienttype").text = req.clienttype
    SubElement(root, "command").text = _clean(req.command)
    if req.cwd:
        SubElement(root, "cwd").text = _clean(req.cwd)
    if req.environment:
        env = SubElement(root, "environment")
        for k, v in sorted(req.environment.items()):
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", k):
                SubElement(env, k).text = _clean(v)
    if req.noderange is not None:
        SubElement(root, "noderange").text = _clean(req.noderange)
    if req.stdin is not None:
        SubElement(root, "stdin").text = _clean(req.stdin)
    return tostring(root) + b"\n"


def _esc(text: str) -> str:
    """Text content escaped for XML, with characters XML cannot carry replaced."""
    if _PLAIN(text):  # nearly always: one scan, no copy
        return text
    text = _clean(text)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")  # parsers would turn a bare CR into LF
    return text


def encode_responses(responses: Iterable[Response]) -> bytes:
    """One ``<xcatresponse>`` holding the given records (several per document is fine).

    Built as a string: answers of hundreds of thousands of records are common
    (lsdef -l on a large cluster) and an element tree per record costs more
    than the rest of the request.
    """
    parts = ["<xcatresponse>"]
    add = parts.append
    for r in responses:
        text = _esc(r.text)
        if r.node is not None:
            add("<node><name>" + _esc(r.node) + "</name>")
            if r.kind == "error":
                add(f"<error>{text}</error><errorcode>{r.errorcode or 1}</errorcode></node>")
            elif r.kind == "warning":
                add(f"<warning>{text}</warning></node>")
            elif r.desc:
                add(f"<data><desc>{_esc(r.desc)}</desc><contents>{text}</contents></data></node>")
            else:
                add(f"<data><contents>{text}</contents></data></node>")
        elif r.kind == "data":
            if r.desc:
                add(f"<data><desc>{_esc(r.desc)}</desc><contents>{text}</contents></data>")
            else:
                add(f"<data>{text}</data>")
        elif r.kind == "error":
            add(f"<error>{text}</error><errorcode>{r.errorcode or 1}</errorcode>")
        else:
            add(f"<{r.kind}>{text}</{r.kind}>")
    add("</xcatresponse>\n")
    return "".join(parts).encode("utf-8")


def _parse_response(doc: bytes) -> Element:
    """The element tree of a response document.

    A document without ``<!`` declares nothing (no DTD, no entities: nothing
    to expand or fetch), and goes to the C parser; defusedxml's parser, which
    refuses declarations, runs its callbacks in Python and cost more than the
    rest of the client on large answers.  Anything else goes through it.
    """
    if b"<!" not in doc:
        try:
            return fromstring(doc)
        except ParseError as exc:
            raise WireError(f"malformed response from the server: {exc}") from None
    from defusedxml import ElementTree as SafeET
    from defusedxml.common import DefusedXmlException

    try:
        return SafeET.fromstring(doc, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise WireError(f"malformed response from the server: {exc}") from None


def decode_response(doc: bytes) -> tuple[list[Response], bool]:
    """Records of one ``<xcatresponse>`` and whether it was ``serverdone``."""
    root = _parse_response(doc)
    out: list[Response] = []
    done = root.find("serverdone") is not None
    top_code = sum(int(e.text or "1") for e in root.findall("errorcode")) or 1
    for child in root:
        tag = child.tag
        if tag == "node":
            out.extend(_node_records(child))
        elif tag == "data":
            contents = child.findtext("contents")
            if contents is not None or child.find("desc") is not None:
                out.append(Response("data", contents or "", desc=child.findtext("desc")))
            else:
                out.append(Response("data", child.text or ""))
        elif tag == "error":
            out.append(Response("error", child.text or "", errorcode=top_code))
        elif tag in ("warning", "info"):
            out.append(Response(tag, child.text or ""))  # type: ignore[arg-type]
    return out, done


def _node_records(node: Element) -> list[Response]:
    """The records of one ``<node>``: its error, or its warning then its data.

    One pass over the children; the first ``name``, ``error``, ``errorcode``
    and ``warning`` count, every ``data`` does.
    """
    name = err = code = warn = None
    datas = []
    for el in node:
        tag = el.tag
        if tag == "data":
            datas.append(el)
        elif tag == "name":
            if name is None:
                name = el
        elif tag == "error":
            if err is None:
                err = el
        elif tag == "errorcode":
            if code is None:
                code = el
        elif tag == "warning" and warn is None:
            warn = el
    node_name = (name.text or "") if name is not None else ""
    if err is not None:
        number = int((code.text or "") or "1") if code is not None else 1
        return [Response("error", err.text or "", node=node_name, errorcode=number or 1)]
    out = []
    if warn is not None:
        out.append(Response("warning", warn.text or "", node=node_name))
    for data in datas:
        contents = desc = None
        for el in data:
            if el.tag == "contents":
                if contents is None:
                    contents = el.text or ""
            elif el.tag == "desc" and desc is None:
                desc = el.text or ""
        text = contents if contents is not None else (data.text or "")
        out.append(Response("data", text, node=node_name, desc=desc))
    return out
