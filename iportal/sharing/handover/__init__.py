"""The web side of handing over the main contact role: the API call, the page that asks,
and the page each e-mailed link opens (the rules are `iportal.sharing.main_contact`)."""
