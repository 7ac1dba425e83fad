"""Band roles: which band of an image is blue, green, red or near-infrared.

Roles come, in this order, from an explicit list (``--bands``), from the
band descriptions stored in the file, or from the band count (4 bands are
blue, green, red, nir as delivered by GF-1/GF-2/ZY-3; 3 bands are a
red, green, blue true-colour product).
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import BandError

__all__ = ["ROLES", "ROLE_ALIASES", "parse_band_list", "resolve_band_roles"]

#: The roles weipian understands.
ROLES = ("blue", "green", "red", "nir")

#: Names found in band descriptions and on the command line, lower-cased.
ROLE_ALIASES = {
    "blue": "blue", "b": "blue", "b02": "blue", "b2": "blue",
    "green": "green", "g": "green", "b03": "green", "b3": "green",
    "red": "red", "r": "red", "b04": "red", "b4": "red",
    "nir": "nir", "nearinfrared": "nir", "near-infrared": "nir", "near_infrared": "nir",
    "infrared": "nir", "n": "nir", "b08": "nir", "b8": "nir",
    "蓝": "blue", "绿": "green", "红": "red", "近红外": "nir",
}

_DEFAULT_BY_COUNT = {
    4: ("blue", "green", "red", "nir"),
    3: ("red", "green", "blue"),
}


def _role_of(name: str) -> str | None:
    key = name.strip().lower().replace(" ", "")
    return ROLE_ALIASES.get(key)


def parse_band_list(text: str) -> tuple[str | None, ...]:
    """Parse a comma-separated band list such as ``"blue,green,red,nir"``.

    Use ``-`` or ``skip`` for a band weipian should ignore.

    Parameters
    ----------
    text : str
        Band names in file order.

    Returns
    -------
    tuple of str or None
        One role per band, ``None`` for ignored bands.

    Raises
    ------
    BandError
        If a name is not a known role.

    Examples
    --------
    >>> parse_band_list("blue,green,red,nir")
    ('blue', 'green', 'red', 'nir')
    >>> parse_band_list("red,green,blue,-")
    ('red', 'green', 'blue', None)
    """
    roles: list[str | None] = []
    for name in text.split(","):
        if name.strip().lower() in ("-", "skip", ""):
            roles.append(None)
            continue
        role = _role_of(name)
        if role is None:
            raise BandError(
                f"unknown band name {name.strip()!r} in --bands {text!r}; "
                f"use one of {', '.join(ROLES)} (or '-' to skip a band)"
            )
        roles.append(role)
    return tuple(roles)


def resolve_band_roles(
    count: int,
    *,
    bands: str | Sequence[str | None] | None = None,
    descriptions: Sequence[str | None] = (),
    source: str = "image",
) -> dict[str, int]:
    """Map each role to a 0-based band index.

    Parameters
    ----------
    count : int
        Number of bands in the image.
    bands : str or sequence of str, optional
        Explicit roles in band order (``"blue,green,red,nir"``); wins over
        everything else.
    descriptions : sequence of str, optional
        Band descriptions stored in the file.
    source : str
        File name used in error messages.

    Returns
    -------
    dict
        ``{"red": 2, ...}``; at least red, green and blue.

    Raises
    ------
    BandError
        If roles cannot be determined, a role repeats, the list length does not
        match the band count, or red, green or blue is missing.

    Examples
    --------
    >>> resolve_band_roles(4)
    {'blue': 0, 'green': 1, 'red': 2, 'nir': 3}
    >>> resolve_band_roles(3)
    {'red': 0, 'green': 1, 'blue': 2}
    """
    if bands is not None:
        roles = parse_band_list(bands) if isinstance(bands, str) else tuple(bands)
        if len(roles) != count:
            raise BandError(
                f"{source}: --bands names {len(roles)} bands but the file has {count}; "
                f"give one name per band, e.g. --bands {','.join((ROLES * 4)[:count])}"
            )
    else:
        described = [_role_of(d) if d else None for d in descriptions]
        if descriptions and sum(r is not None for r in described) >= 3:
            roles = tuple(described)
        elif count in _DEFAULT_BY_COUNT:
            roles = _DEFAULT_BY_COUNT[count]
        else:
            raise BandError(
                f"{source}: {count} bands without recognisable descriptions; "
                f"name them with --bands, e.g. --bands blue,green,red,nir{',-' * max(count - 4, 0)}"
            )
    mapping: dict[str, int] = {}
    for index, role in enumerate(roles):
        if role is None:
            continue
        if role in mapping:
            raise BandError(f"{source}: band role {role!r} given twice; each role names one band")
        mapping[role] = index
    missing = [r for r in ("red", "green", "blue") if r not in mapping]
    if missing:
        raise BandError(
            f"{source}: no {', '.join(missing)} band; weipian needs at least red, green and blue "
            f"(name them with --bands)"
        )
    return mapping
