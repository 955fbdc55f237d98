"""The export's columns are named in the language of whoever asked for it (it goes to them by DM);
the command line's export, for the operator and scripts, keeps them in English."""

from __future__ import annotations

import csv
import io

from runtime.i18n import texts
from services import disclosure
from storage import Store
from tests.services.test_digests import seed


async def test_the_export_names_its_columns_in_the_readers_language(store: Store) -> None:
    await seed(store)
    exported = await disclosure.export(store, 1)
    english = list(csv.reader(io.StringIO(exported.csv)))
    swedish = list(csv.reader(io.StringIO(exported.csv_for(texts("sv").say))))
    assert english[0] == ["stage", "survey", "touchpoint", "score", "comment", "week"]
    assert swedish[0] == ["steg", "enkät", "kontaktpunkt", "poäng", "kommentar", "vecka"]
    assert exported.csv_for(texts("en").say) == exported.csv
    # The same rows under either header: what people typed and the codes are not translated.
    assert swedish[1:] == english[1:] and len(english) > 1
    assert exported.answers + exported.comments == len(english) - 1
