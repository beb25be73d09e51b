"""What a clerk reads about a submission's fate, in Indonesian: one text per rejection reason
code and per outcome. The codes stay as in the contract; these are their plain words."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from jamsos_schemas.registration import ReasonCode

REASON_TEXT: Mapping[str, str] = MappingProxyType(
    {
        ReasonCode.SCHEMA_INVALID: "data tidak lengkap atau formatnya salah",
        ReasonCode.UNKNOWN_AGENCY: "kode OPD tidak terdaftar",
        ReasonCode.NIK_INVALID: (
            "NIK tidak sah (harus 16 digit: kode wilayah, tanggal lahir dan nomor urut yang benar)"
        ),
        ReasonCode.NIK_MISMATCH: (
            "NIK tidak cocok dengan tanggal lahir atau jenis kelamin (perempuan: tanggal + 40)"
        ),
        ReasonCode.OUT_OF_REGION: "desa/kelurahan tempat tinggal di luar Kabupaten Kudus",
        ReasonCode.AGE_OUT_OF_RANGE: "usia pada tanggal pengajuan di luar batas usia program",
        ReasonCode.QUOTA_EXCEEDED: "kuota OPD atau batas jumlah peserta Kabupaten sudah penuh",
        ReasonCode.DECEASED: "NIK ini sudah tercatat meninggal dunia",
    }
)

OUTCOME_TEXT: Mapping[str, str] = MappingProxyType(
    {
        "ENROLLED": "Terdaftar",
        "DUPLICATE": "Ganda (sudah diajukan)",
        "REJECTED": "Ditolak",
        "REVIEW_REQUIRED": "Ditahan untuk pemeriksaan",
        "IN_PROCESS": "Sedang diproses",
        "DEAD_LETTER": "Gagal diproses",
        "ROW_ERROR": "Tidak dikirim: ada kesalahan",
        "NOT_SUBMITTED": "Belum dikirim",
    }
)


def reason_text(code: str) -> str:
    """The Indonesian words for a rejection reason code (the code itself if it is unknown)."""
    return REASON_TEXT.get(code, code)
