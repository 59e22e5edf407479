"""The import template: the columns `client-numbers import` reads, an example row, and a
Help sheet that explains every column in English, Dutch and French."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from iportal.cli._client_numbers._files import COLUMNS, DATA_SHEET, OPTIONAL_COLUMNS

HELP_SHEET = "Help"
MAX_ROWS = 10_000  # rows that get the language list and the text formats
# The Help sheet shows English, Dutch and French side by side, so its texts are content
# in three languages rather than messages translated into the reader's one.
HELP = {
    "client_code": (
        "DL20012345",
        "Required. Your prefix, then the client number as printed on the invoices. "
        "Spaces and dashes are ignored, lower case is fine.",
        "Verplicht. Uw prefix, gevolgd door het klantnummer zoals op de facturen. "
        "Spaties en streepjes worden genegeerd, kleine letters mogen.",
        "Obligatoire. Votre préfixe, suivi du numéro de client tel qu'imprimé sur les "
        "factures. Les espaces et tirets sont ignorés, les minuscules acceptées.",
    ),
    "company_name": (
        "Brouwerij Peeters BV",
        "Required. The client's company name, at most 200 characters.",
        "Verplicht. De bedrijfsnaam van de klant, maximaal 200 tekens.",
        "Obligatoire. La dénomination de la société cliente, 200 caractères au maximum.",
    ),
    "enterprise_number": (
        "BE0417000129",
        "Optional. Belgian enterprise number: 10 digits, with or without BE, dots or "
        "spaces; its check digits (modulo 97) are verified. When given, it is the client's "
        "login (B2B account). Empty for clients without one.",
        "Optioneel. Belgisch ondernemingsnummer: 10 cijfers, met of zonder BE, punten of "
        "spaties; de controlecijfers (modulo 97) worden nagekeken. Indien ingevuld, is het "
        "de login van de klant (B2B-account). Leeg voor klanten zonder ondernemingsnummer.",
        "Facultatif. Numéro d'entreprise belge : 10 chiffres, avec ou sans BE, points ou "
        "espaces ; les chiffres de contrôle (modulo 97) sont vérifiés. S'il est indiqué, "
        "c'est l'identifiant du client (compte B2B). Vide pour les clients qui n'en ont pas.",
    ),
    "email": (
        "anna.peeters@example.be",
        "Required. E-mail address of the main contact: invitations and notifications go there.",
        "Verplicht. E-mailadres van de hoofdcontactpersoon: uitnodigingen en meldingen "
        "gaan daarheen.",
        "Obligatoire. Adresse e-mail du contact principal : les invitations et "
        "notifications y sont envoyées.",
    ),
    "first_name": (
        "Anna",
        "Required. First name of the main contact, at most 100 characters.",
        "Verplicht. Voornaam van de hoofdcontactpersoon, maximaal 100 tekens.",
        "Obligatoire. Prénom du contact principal, 100 caractères au maximum.",
    ),
    "last_name": (
        "Peeters",
        "Required. Family name of the main contact, at most 100 characters.",
        "Verplicht. Achternaam van de hoofdcontactpersoon, maximaal 100 tekens.",
        "Obligatoire. Nom de famille du contact principal, 100 caractères au maximum.",
    ),
    "language": (
        "nl",
        "Required. Language of the main contact's e-mails and pages: nl, fr, en or de.",
        "Verplicht. Taal van de e-mails en pagina's van de hoofdcontactpersoon: nl, fr, en of de.",
        "Obligatoire. Langue des e-mails et des pages du contact principal : nl, fr, en ou de.",
    ),
    "contract_start": (
        "2019-03-01",
        "Required. Start of the contract: a date cell, or text YYYY-MM-DD; not in the "
        "future. Documents are shown from this date on.",
        "Verplicht. Begin van het contract: een datumcel, of tekst JJJJ-MM-DD; niet in de "
        "toekomst. Documenten worden vanaf deze datum getoond.",
        "Obligatoire. Début du contrat : une cellule date, ou le texte AAAA-MM-JJ ; pas "
        "dans le futur. Les documents sont affichés à partir de cette date.",
    ),
    "aliases": (
        "0208:0417000129; BE0417000129",
        "Optional. Other references your e-invoices (UBL, Factur-X) use for this client, "
        "separated by ';': a Peppol id with its scheme, a VAT number, a free reference. "
        "Each belongs to one client number only. On update the list replaces the stored "
        "one; an empty cell removes them.",
        "Optioneel. Andere referenties die uw e-facturen (UBL, Factur-X) voor deze klant "
        "gebruiken, gescheiden door ';': een Peppol-id met zijn schema, een btw-nummer, een "
        "vrije referentie. Elke hoort bij één klantnummer. Bij een update vervangt de lijst "
        "de bewaarde; een lege cel verwijdert ze.",
        "Facultatif. Autres références que vos factures électroniques (UBL, Factur-X) "
        "utilisent pour ce client, séparées par « ; » : un identifiant Peppol avec son "
        "schéma, un numéro de TVA, une référence libre. Chacune n'appartient qu'à un numéro "
        "de client. Lors d'une mise à jour, la liste remplace celle enregistrée ; une cellule "
        "vide les supprime.",
    ),
}
HELP_INTRO = (
    "One row per client number; delete the example row. Import: iportal client-numbers "
    "import --issuer PREFIX FILE.xlsx. Rows with an error change nothing and are listed "
    "with the reason; correct them and import the file again.",
    "Eén rij per klantnummer; verwijder de voorbeeldrij. Importeren: iportal "
    "client-numbers import --issuer PREFIX BESTAND.xlsx. Rijen met een fout veranderen "
    "niets en worden met de reden vermeld; verbeter ze en importeer het bestand opnieuw.",
    "Une ligne par numéro de client ; supprimez la ligne d'exemple. Import : iportal "
    "client-numbers import --issuer PREFIXE FICHIER.xlsx. Les lignes en erreur ne "
    "changent rien et sont listées avec la raison ; corrigez-les et importez à nouveau.",
)


def write_template(path: Path, prefix: str = "DL2") -> None:
    """The import template: a header and an example row, and a Help sheet."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = DATA_SHEET
    sheet.append(list(COLUMNS))
    example: dict[str, Any] = {column: HELP[column][0] for column in COLUMNS}
    example["client_code"] = f"{prefix}0012345"
    example["contract_start"] = date.fromisoformat(example["contract_start"])
    sheet.append([example[column] for column in COLUMNS])
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.cell(1, index).font = Font(bold=column not in OPTIONAL_COLUMNS)
        sheet.column_dimensions[letter].width = 34 if column == "aliases" else 22
        # Text cells, so that the spreadsheet keeps the leading zeros of codes and numbers.
        number_format = "yyyy-mm-dd" if column == "contract_start" else "@"
        sheet.column_dimensions[letter].number_format = number_format
        sheet.cell(2, index).number_format = number_format
    languages = DataValidation(type="list", formula1='"nl,fr,en,de"', allow_blank=False)
    sheet.add_data_validation(languages)
    language_column = get_column_letter(COLUMNS.index("language") + 1)
    languages.add(f"{language_column}2:{language_column}{MAX_ROWS}")
    sheet.freeze_panes = "A2"
    _help_sheet(workbook.create_sheet(HELP_SHEET), example)
    workbook.save(path)


def _help_sheet(sheet: Any, example_row: dict[str, Any]) -> None:
    sheet.append(["", "", "", *HELP_INTRO])
    sheet.append(["column", "required", "example", "English", "Nederlands", "Français"])
    for column in COLUMNS:
        _, *explanations = HELP[column]
        example = HELP[column][0] if column == "contract_start" else example_row[column]
        required = "no · nee · non" if column in OPTIONAL_COLUMNS else "yes · ja · oui"
        sheet.append([column, required, example, *explanations])
    for letter, width in zip("ABCDEF", (20, 16, 30, 60, 60, 60), strict=True):
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[2]:
        cell.font = Font(bold=True)
