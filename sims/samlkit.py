"""SAML 2.0 XML shared by the idp (identity provider side) and zia (service provider side).

Safe parsing (no DOCTYPE, no entity expansion, no network, bounded size), enveloped signatures
with signxml in the shape every tested SP library accepts (exclusive C14N, the signature right
after ``saml:Issuer``), XSW-safe verification that hands back only what a signature covers,
the HTTP-Redirect binding (raw DEFLATE, a signature over the raw query string) and the HTTP-POST
binding (an auto-submitting form), metadata documents and ``xs:dateTime`` on the simulated clock.
Nothing here knows HTTP frameworks or reads a clock: callers pass instants in.
"""

from __future__ import annotations

import base64
import html
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote_plus, unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidSignature

PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
METADATA = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"samlp": PROTOCOL, "saml": ASSERTION, "md": METADATA, "ds": DS, "xs": XS, "xsi": XSI}

BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
ATTRNAME_BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
AC_PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"


@dataclass(frozen=True)
class Algorithm:
    name: str  # "sha256" | "sha1"
    signature_uri: str
    digest_uri: str
    signature_method: SignatureMethod
    digest_method: DigestAlgorithm
    hash: type[hashes.HashAlgorithm]


ALGORITHMS: dict[str, Algorithm] = {
    "sha256": Algorithm(
        "sha256",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmlenc#sha256",
        SignatureMethod.RSA_SHA256,
        DigestAlgorithm.SHA256,
        hashes.SHA256,
    ),
    "sha1": Algorithm(
        "sha1",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#sha1",
        SignatureMethod.RSA_SHA1,
        DigestAlgorithm.SHA1,
        hashes.SHA1,
    ),
}
BY_SIGNATURE_URI = {a.signature_uri: a for a in ALGORITHMS.values()}

MAX_XML_BYTES = 256 * 1024  # a Response with a few attributes is ~6 KB; this is generous
MAX_CERTIFICATES = 20  # ZIA: 0xE5504 "more than 20 public certificates in the response"


class SamlXmlError(ValueError):
    """A message that cannot be accepted; ``reason`` is machine-readable, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# -- time ------------------------------------------------------------------------------------------
def xs_datetime(ts: float) -> str:
    """``xs:dateTime`` in UTC with a Z (whole seconds: what every library parses)."""
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_DT = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def parse_xs_datetime(value: str | None) -> float | None:
    """Epoch seconds of an ``xs:dateTime``; None when absent; SamlXmlError when malformed."""
    if value is None:
        return None
    m = _DT.match(value.strip())
    if not m:
        raise SamlXmlError("bad_time", f"not an xs:dateTime: {value[:40]!r}")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    try:
        dt = datetime.fromisoformat(m.group(1) + zone)
    except ValueError:
        raise SamlXmlError("bad_time", f"not an xs:dateTime: {value[:40]!r}") from None
    return dt.timestamp() + float(m.group(2) or 0)


# -- parsing ---------------------------------------------------------------------------------------
def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=False,
        remove_pis=False,
    )


def safe_parse(data: bytes, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse an untrusted SAML document: bounded size, no DOCTYPE (so no entities), no network."""
    if len(data) > max_bytes:
        raise SamlXmlError("too_large", f"the XML document is {len(data)} bytes, more than {max_bytes}")
    lowered = data.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise SamlXmlError("doctype", "a DOCTYPE or entity declaration is not allowed in a SAML message")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as err:
        raise SamlXmlError("malformed", f"the XML is not well-formed: {str(err)[:120]}") from None
    except ValueError as err:  # e.g. unicode strings with an encoding declaration
        raise SamlXmlError("malformed", f"the XML cannot be parsed: {str(err)[:120]}") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise SamlXmlError("doctype", "a DOCTYPE is not allowed in a SAML message")
    return root


def b64decode_strict(value: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (ValueError, TypeError):
        raise SamlXmlError("bad_encoding", f"{what} is not valid base64") from None


def inflate(data: bytes, max_bytes: int = MAX_XML_BYTES) -> bytes:
    """Raw DEFLATE (HTTP-Redirect binding), refusing to expand past ``max_bytes``."""
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(data, max_bytes + 1)
    except zlib.error:
        raise SamlXmlError("bad_encoding", "the message is not raw DEFLATE data") from None
    if len(out) > max_bytes or d.unconsumed_tail:
        raise SamlXmlError("too_large", f"the inflated message is larger than {max_bytes} bytes")
    return out


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


# -- certificates and keys -------------------------------------------------------------------------
def cert_b64(cert: x509.Certificate) -> str:
    """The base64 DER body of a certificate, as it appears in ds:X509Certificate."""
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def cert_to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def load_certificate(text: str | bytes) -> x509.Certificate:
    """A certificate from PEM, or from bare base64 DER (as metadata carries it)."""
    raw = text.encode() if isinstance(text, str) else text
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_certificate(raw.strip())
        return x509.load_der_x509_certificate(base64.b64decode(b"".join(raw.split()), validate=True))
    except (ValueError, TypeError) as err:
        raise SamlXmlError("bad_certificate", f"not an X.509 certificate: {str(err)[:80]}") from None


# -- signing ---------------------------------------------------------------------------------------
class _Signer(XMLSigner):
    def check_deprecated_methods(self) -> None:  # SHA-1 only when a configuration asks for it
        pass


_SIGNERS: dict[tuple[str, bool], XMLSigner] = {}


def _signer(alg: str, key_info: bool) -> XMLSigner:
    signer = _SIGNERS.get((alg, key_info))
    if signer is None:
        a = ALGORITHMS[alg]
        signer = _Signer(
            signature_algorithm=a.signature_method,
            digest_algorithm=a.digest_method,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        )
        if not key_info:
            signer.signature_annotators = []
        _SIGNERS[(alg, key_info)] = signer
    return signer


def _placeholder_after_issuer(el: etree._Element) -> None:
    issuer = el.find(f"{{{ASSERTION}}}Issuer")
    ph = etree.Element(f"{{{DS}}}Signature", Id="placeholder", nsmap={"ds": DS})
    if issuer is not None:
        issuer.addnext(ph)
    else:
        el.insert(0, ph)


def sign_enveloped(
    root: etree._Element,
    target: etree._Element,
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    alg: str = "sha256",
    key_info: bool = True,
) -> etree._Element:
    """Sign ``target`` (``root`` or a descendant) with an enveloped signature placed right after its
    ``saml:Issuer``; returns the new tree (signxml serialises and re-parses)."""
    _placeholder_after_issuer(target)
    return _signer(alg, key_info).sign(root, key=key, cert=[cert], reference_uri="#" + target.get("ID"))


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# -- verification ----------------------------------------------------------------------------------
_VERIFY_CONFIGS: dict[bool, SignatureConfiguration] = {}


def _verify_config(allow_sha1: bool) -> SignatureConfiguration:
    cfg = _VERIFY_CONFIGS.get(allow_sha1)
    if cfg is None:
        methods = {SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA384, SignatureMethod.RSA_SHA512}
        digests = {DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
        if allow_sha1:
            methods.add(SignatureMethod.RSA_SHA1)
            digests.add(DigestAlgorithm.SHA1)
        cfg = SignatureConfiguration(
            require_x509=False,
            location="./",
            expect_references=1,
            signature_methods=frozenset(methods),
            digest_algorithms=frozenset(digests),
            ignore_ambiguous_key_info=True,
        )
        _VERIFY_CONFIGS[allow_sha1] = cfg
    return cfg


def check_signature_shape(el: etree._Element, sig: etree._Element) -> str:
    """What pysaml2's xmldsig validators demand: one Reference to the enclosing element's ID,
    exclusive C14N, only the enveloped and exc-c14n transforms, no ds:Object. Returns the
    signature algorithm URI."""
    info = sig.find("ds:SignedInfo", NS)
    if info is None:
        raise SamlXmlError("bad_signature", "the signature has no SignedInfo")
    c14n = info.find("ds:CanonicalizationMethod", NS)
    if c14n is None or c14n.get("Algorithm") not in (EXC_C14N, EXC_C14N_COMMENTS):
        raise SamlXmlError(
            "c14n",
            "SAML standard needs XML exc-c14n transform (the SignedInfo uses another canonicalization)",
        )
    refs = info.findall("ds:Reference", NS)
    if len(refs) != 1:
        raise SamlXmlError("bad_reference", f"the signature has {len(refs)} references, not exactly one")
    element_id = el.get("ID")
    if not element_id or refs[0].get("URI") != "#" + element_id:
        raise SamlXmlError(
            "bad_reference", "the signature does not reference the element that encloses it (wrapping?)"
        )
    for t in refs[0].findall("ds:Transforms/ds:Transform", NS):
        if t.get("Algorithm") not in (ENVELOPED, EXC_C14N, EXC_C14N_COMMENTS):
            raise SamlXmlError("c14n", "SAML standard needs XML exc-c14n transform (an unexpected transform)")
    if sig.find("ds:Object", NS) is not None:
        raise SamlXmlError("bad_signature", "the signature carries a ds:Object (wrapping?)")
    method = info.find("ds:SignatureMethod", NS)
    return method.get("Algorithm", "") if method is not None else ""


def verify_enveloped(el: etree._Element, cert: x509.Certificate, allow_sha1: bool) -> etree._Element:
    """Verify the one ds:Signature that is a direct child of ``el`` and covers ``el``; return the
    signed subtree as signxml rebuilt it from the signed bytes (read nothing else)."""
    sigs = el.findall("ds:Signature", NS)
    if len(sigs) != 1:
        raise SamlXmlError("bad_signature", f"expected one signature on {etree.QName(el).localname}")
    check_signature_shape(el, sigs[0])
    try:
        result = XMLVerifier().verify(
            etree.tostring(el),
            x509_cert=cert,
            expect_config=_verify_config(allow_sha1),
            id_attribute="ID",
            parser=_parser(),
        )
    except InvalidDigest:
        raise SamlXmlError("tampered", "the digest does not match: the signed content was changed") from None
    except InvalidCertificate as err:
        raise SamlXmlError("bad_signature", f"certificate problem: {err}") from None
    except InvalidSignature as err:
        text = str(err)
        if "forbidden" in text:
            raise SamlXmlError("algorithm", f"signature algorithm not allowed: {text}") from None
        raise SamlXmlError(
            "bad_signature", f"the signature does not verify with the certificate: {text}"
        ) from None
    except Exception as err:  # anything else signxml may raise on hostile input is still a refusal
        raise SamlXmlError("bad_signature", f"the signature cannot be checked: {str(err)[:120]}") from None
    signed = result.signed_xml
    if signed is None or signed.get("ID") != el.get("ID") or signed.tag != el.tag:
        raise SamlXmlError("bad_reference", "the signature covers another element than the one processed")
    return signed


# -- HTTP-Redirect binding -------------------------------------------------------------------------
def raw_query_params(raw_query: str) -> dict[str, str]:
    """Parameters as sent (still percent-encoded), each at most once."""
    params: dict[str, str] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        if k in params:
            raise SamlXmlError("duplicate_param", f"the parameter {k!r} appears more than once")
        params[k] = v
    return params


def redirect_query(
    xml: bytes,
    *,
    param: str = "SAMLRequest",
    relay_state: str | None = None,
    key: rsa.RSAPrivateKey | None = None,
    alg: str = "sha256",
) -> str:
    """The query string of the HTTP-Redirect binding; signed over its raw bytes when ``key``."""
    query = f"{param}={quote_plus(base64.b64encode(deflate(xml)).decode())}"
    if relay_state is not None:
        query += f"&RelayState={quote_plus(relay_state)}"
    if key is not None:
        a = ALGORITHMS[alg]
        query += f"&SigAlg={quote_plus(a.signature_uri)}"
        signature = key.sign(query.encode(), padding.PKCS1v15(), a.hash())
        query += f"&Signature={quote_plus(base64.b64encode(signature).decode())}"
    return query


def verify_redirect_signature(
    params: dict[str, str], cert: x509.Certificate, param: str = "SAMLRequest", allow_sha1: bool = True
) -> str:
    """Check ``Signature`` over ``param=..&RelayState=..&SigAlg=..`` exactly as sent; returns the
    algorithm name."""
    sig_alg = unquote_plus(params.get("SigAlg", ""))
    a = BY_SIGNATURE_URI.get(sig_alg)
    if a is None or (a.name == "sha1" and not allow_sha1):
        raise SamlXmlError("algorithm", f"unsupported SigAlg {sig_alg[:80]!r}")
    signed = "&".join(f"{k}={params[k]}" for k in (param, "RelayState", "SigAlg") if k in params)
    signature = b64decode_strict(unquote_plus(params.get("Signature", "")), "Signature")
    try:
        cert.public_key().verify(signature, signed.encode(), padding.PKCS1v15(), a.hash())
    except (CryptoInvalidSignature, ValueError, TypeError):
        raise SamlXmlError(
            "bad_signature", "the request signature does not verify with the SP certificate"
        ) from None
    return a.name


# -- HTTP-POST binding -----------------------------------------------------------------------------
def post_form(action: str, fields: dict[str, str], title: str = "Signing in") -> str:
    """An HTML page whose form posts itself to ``action`` (with a button for browsers without JS)."""
    inputs = "\n".join(
        f'    <input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>'
        for k, v in fields.items()
        if v is not None
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>
<body onload="document.forms[0].submit()">
  <p>{html.escape(title)}&hellip;</p>
  <form method="post" action="{html.escape(action)}">
{inputs}
    <noscript><button type="submit">Continue</button></noscript>
  </form>
</body></html>
"""


# -- metadata --------------------------------------------------------------------------------------
def _key_descriptor(parent: etree._Element, cert: x509.Certificate, use: str = "signing") -> None:
    kd = etree.SubElement(parent, f"{{{METADATA}}}KeyDescriptor", use=use)
    ki = etree.SubElement(kd, f"{{{DS}}}KeyInfo")
    data = etree.SubElement(ki, f"{{{DS}}}X509Data")
    etree.SubElement(data, f"{{{DS}}}X509Certificate").text = cert_b64(cert)


def idp_metadata(
    entity_id: str, sso_url: str, cert: x509.Certificate, want_signed_requests: bool, valid_until: float
) -> bytes:
    root = etree.Element(
        f"{{{METADATA}}}EntityDescriptor",
        nsmap={"md": METADATA, "ds": DS},
        entityID=entity_id,
        validUntil=xs_datetime(valid_until),
    )
    idp = etree.SubElement(
        root,
        f"{{{METADATA}}}IDPSSODescriptor",
        WantAuthnRequestsSigned="true" if want_signed_requests else "false",
        protocolSupportEnumeration=PROTOCOL,
    )
    _key_descriptor(idp, cert)
    for fmt in (NAMEID_EMAIL, NAMEID_UNSPECIFIED):
        etree.SubElement(idp, f"{{{METADATA}}}NameIDFormat").text = fmt
    for binding in (BINDING_REDIRECT, BINDING_POST):
        etree.SubElement(idp, f"{{{METADATA}}}SingleSignOnService", Binding=binding, Location=sso_url)
    return to_bytes(root)


def sp_metadata(
    entity_id: str,
    acs_url: str,
    cert: x509.Certificate | None,
    authn_requests_signed: bool,
    want_assertions_signed: bool = True,
) -> bytes:
    root = etree.Element(
        f"{{{METADATA}}}EntityDescriptor", nsmap={"md": METADATA, "ds": DS}, entityID=entity_id
    )
    sp = etree.SubElement(
        root,
        f"{{{METADATA}}}SPSSODescriptor",
        AuthnRequestsSigned="true" if authn_requests_signed else "false",
        WantAssertionsSigned="true" if want_assertions_signed else "false",
        protocolSupportEnumeration=PROTOCOL,
    )
    if cert is not None:
        _key_descriptor(sp, cert)
    etree.SubElement(sp, f"{{{METADATA}}}NameIDFormat").text = NAMEID_EMAIL
    etree.SubElement(
        sp, f"{{{METADATA}}}AssertionConsumerService", Binding=BINDING_POST, Location=acs_url, index="0"
    )
    return to_bytes(root)


@dataclass
class SpMetadata:
    entity_id: str
    acs_urls: list[str]
    certificate: x509.Certificate | None
    authn_requests_signed: bool


def read_sp_metadata(data: bytes) -> SpMetadata:
    """The parts of an SP's metadata an IdP app needs (entity id, ACS URLs, signing certificate)."""
    root = safe_parse(data)
    if root.tag != f"{{{METADATA}}}EntityDescriptor":
        raise SamlXmlError("bad_metadata", "not a SAML metadata EntityDescriptor")
    sp = root.find("md:SPSSODescriptor", NS)
    if sp is None:
        raise SamlXmlError("bad_metadata", "the metadata has no SPSSODescriptor")
    acs = [
        e.get("Location", "")
        for e in sp.findall("md:AssertionConsumerService", NS)
        if e.get("Binding") == BINDING_POST and e.get("Location")
    ]
    cert = None
    for kd in sp.findall("md:KeyDescriptor", NS):
        if kd.get("use", "signing") == "signing":
            node = kd.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
            if node is not None and node.text:
                cert = load_certificate(node.text)
                break
    return SpMetadata(root.get("entityID", ""), acs, cert, sp.get("AuthnRequestsSigned") == "true")


def text_of(el: etree._Element | None) -> str | None:
    """An element's text, refusing comments or processing instructions inside it (a classic trick to
    make ``.text`` stop early: ``victim@corp.example<!---->.evil.example``)."""
    if el is None:
        return None
    for child in el:
        if isinstance(child, etree._Comment | etree._ProcessingInstruction) or isinstance(child.tag, str):
            raise SamlXmlError("tampered", f"{etree.QName(el).localname} contains markup or a comment")
    return (el.text or "").strip()
