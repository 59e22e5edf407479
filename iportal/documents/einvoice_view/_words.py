"""Codes as words: UNTDID 1001 document types, UNCL 5305 VAT categories, UNCL 4461
payment means and UN/ECE Recommendation 20 units. A code without a word here is shown
as written: it is still what the document says."""

from __future__ import annotations

from iportal.i18n import N_, gettext

DOCUMENT_TYPES = {
    "380": N_("Commercial invoice"),
    "381": N_("Credit note"),
    "383": N_("Debit note"),
    "384": N_("Corrected invoice"),
    "386": N_("Prepayment invoice"),
    "389": N_("Self-billed invoice"),
    "326": N_("Partial invoice"),
    "261": N_("Self-billed credit note"),
    "751": N_("Invoice information for accounting purposes"),
}
VAT_CATEGORIES = {
    "S": N_("Standard rate"),
    "Z": N_("Zero rated goods"),
    "E": N_("Exempt from VAT"),
    "AE": N_("VAT reverse charge"),
    "K": N_("Intra-community supply, VAT exempt"),
    "G": N_("Export outside the EU, VAT exempt"),
    "O": N_("Outside the scope of VAT"),
    "L": N_("Canary Islands general indirect tax"),
    "M": N_("Ceuta and Melilla tax"),
}
PAYMENT_MEANS = {
    "1": N_("Not defined"),
    "10": N_("Cash"),
    "20": N_("Cheque"),
    "30": N_("Credit transfer"),
    "31": N_("Debit transfer"),
    "42": N_("Payment to bank account"),
    "48": N_("Bank card"),
    "49": N_("Direct debit"),
    "57": N_("Standing agreement"),
    "58": N_("SEPA credit transfer"),
    "59": N_("SEPA direct debit"),
    "97": N_("Clearing between partners"),
    "ZZZ": N_("Mutually defined"),
}
UNITS = {
    "C62": N_("unit"),
    "H87": N_("piece"),
    "EA": N_("each"),
    "XPP": N_("piece"),
    "NAR": N_("number of articles"),
    "SET": N_("set"),
    "PR": N_("pair"),
    "HUR": N_("hour"),
    "MIN": N_("minute"),
    "DAY": N_("day"),
    "WEE": N_("week"),
    "MON": N_("month"),
    "ANN": N_("year"),
    "KGM": N_("kilogram"),
    "GRM": N_("gram"),
    "TNE": N_("tonne"),
    "MTR": N_("metre"),
    "KMT": N_("kilometre"),
    "MTK": N_("square metre"),
    "MTQ": N_("cubic metre"),
    "LTR": N_("litre"),
    "KWH": N_("kilowatt hour"),
    "LS": N_("lump sum"),
    "XBX": N_("box"),
    "XPK": N_("package"),
    "P1": N_("percent"),
    "ZZ": N_("mutually defined"),
}


def _word(table: dict[str, str], code: str | None) -> str:
    if not code:
        return ""
    word = table.get(code.strip().upper())
    return gettext(word) if word else code


def document_type(code: str | None, credit_note: bool) -> str:
    if code and code.strip().lstrip("0") in DOCUMENT_TYPES:
        return gettext(DOCUMENT_TYPES[code.strip().lstrip("0")])
    return gettext(N_("Credit note") if credit_note else N_("Invoice"))


def vat_category(code: str | None) -> str:
    return _word(VAT_CATEGORIES, code)


def payment_means(code: str | None) -> str:
    return _word(PAYMENT_MEANS, code)


def unit(code: str | None) -> str:
    return _word(UNITS, code)
