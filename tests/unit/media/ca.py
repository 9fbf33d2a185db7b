"""A throwaway certificate authority for C2PA signing tests, made in memory per session.

The end-entity certificate follows the C2PA certificate profile that c2pa-rs enforces
before it signs or validates: X.509 v3, a critical keyUsage with digitalSignature only,
an extendedKeyUsage naming emailProtection (document signing and the C2PA claim-signing
purpose are accepted too), basicConstraints cA=false and an authority key identifier
pointing at the issuing CA. Nothing is written to disk; tests that need files write the
PEM into their own tmp_path.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class ThrowawayCA:
    """A self-signed root that issues end-entity certificates for given P-256 keys."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, name: str = "Ledger Test Root CA") -> ThrowawayCA:
        """A new root CA with a fresh P-256 key, valid from yesterday for 30 days."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(name)
        certificate = (
            _template(subject, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(signing=False), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    @property
    def pem(self) -> bytes:
        """The root certificate in PEM: a trust anchor list holding this CA alone."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        public_key: ec.EllipticCurvePublicKey,
        common_name: str = "Test Creator",
        *,
        extended_key_usage: bool = True,
    ) -> bytes:
        """A PEM chain (end-entity certificate for ``public_key``, then this root).

        ``extended_key_usage=False`` leaves out the EKU extension, which the C2PA profile
        requires: for testing that a non-conforming certificate is refused.
        """
        builder = (
            _template(_name(common_name), self.certificate.subject, public_key)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signing=True), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if extended_key_usage:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            )
        leaf = builder.sign(self.key, hashes.SHA256())
        return leaf.public_bytes(serialization.Encoding.PEM) + self.pem


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ledger Tests"),
    ])


def _template(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + 30 * _DAY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=not signing,
        crl_sign=not signing, encipher_only=False, decipher_only=False,
    )
