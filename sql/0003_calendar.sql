-- Settings of the database itself (not of a simulation, which has SimSettings): one row a key.
-- calendar: the exchange-calendars name (XNYS, XLON, XTKS, ...) whose sessions
-- `quantdb prices import` and `quantdb check` measure every ticker's bars against; XNYS until
-- `quantdb calendar set NAME` changes it.
CREATE TABLE database_settings (
    key   TEXT NOT NULL PRIMARY KEY CHECK (key <> '' AND key = lower(trim(key))),  -- the setting's name
    value TEXT NOT NULL CHECK (value <> ''),  -- its value, as text
    CHECK (key <> 'calendar' OR value = upper(trim(value)))
) STRICT;

INSERT INTO database_settings (key, value) VALUES ('calendar', 'XNYS');
