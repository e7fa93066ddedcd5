# Scalar expressions evaluated by PostgreSQL 15 and by cairn; calls.expected holds PostgreSQL's
# answers (text output and result type, or SQLSTATE and message). Regenerate with
#   .venv/bin/python -m tests.sql.types.corpus
# Lines starting with SRF are set-returning calls (compared row by row); SET changes TimeZone.
SET timezone = 'UTC'
# --- integers
1 + 2
2147483647 + 1
9223372036854775807 + 1
(32767::smallint) + (1::smallint)
-7 / 2
7 / -2
5 % -3
-5 % 3
1 / 0
1 % 0
(-2147483648)::integer / -1
2 ^ 10
@(-5)
|/ 16
||/ 27
5 & 3
5 | 3
5 # 3
~5
1 << 4
-16 >> 2
3 * 1.5
10 / 4
10 / 4.0
1 + 2::bigint
(1::smallint) + (1::smallint)
'12' + 1
1 + '1.5'
2147483648
9223372036854775808
'abc'::integer
' 42 '::integer
'99999999999'::integer
'70000'::smallint
'-9223372036854775808'::bigint
'1e3'::integer
(2.5)::integer
(3.5)::integer
(-2.5)::integer
(2.5::float8)::integer
(3.5::float8)::integer
(-0.5::float8)::integer
(1e10::float8)::integer
'NaN'::float8::integer
true::integer
1::boolean
0::boolean
# --- floats
0.1::float8 + 0.2::float8
1e15::float8
1e14::float8
123456789012345678::float8
1.5e-7::float8
'1e-400'::float8
'1e400'::float8
'inf'::float8
'-Infinity'::float8
'nan'::float8
'-0'::float8
'  1.5  '::float8
'1.5x'::float8
1e308::float8 * 10::float8
1::float8 / 0::float8
'NaN'::float8 = 'NaN'::float8
'NaN'::float8 > 'Infinity'::float8
3.14159::real
1e6::real
0.1::real + 0.2::real
0.1::real * 1::float8
'1e40'::real
(0.1::real)::float8
(0.1::float8)::real
(0.1::float8)::numeric
(1e20::float8)::numeric
(1.5::real)::numeric
sqrt(2::float8)
sqrt(-1::float8)
power(2::float8, 0.5::float8)
power(0::float8, -1::float8)
power(-8::float8, 1.0::float8/3::float8)
exp(1::float8)
exp(1000::float8)
ln(0::float8)
ln(-1::float8)
log(100::float8)
cbrt(27::float8)
round(2.5::float8)
round(3.5::float8)
round(-2.5::float8)
trunc(-2.7::float8)
ceil(-1.5::float8)
floor(-1.5::float8)
sign(-3::float8)
sin(0::float8)
asin(2::float8)
atan2(1::float8, 1::float8)
degrees(pi())
radians(180::float8)
abs(-2.5::float8)
# --- numeric
1.5 + 2.25
1.50 * 2.5
1 / 3::numeric
10::numeric / 4
2::numeric / 3::numeric(10,5)
1e20::numeric / 7
0.001 / 7
123456789.123 / 0.007
1::numeric / 0
0::numeric / 0
'NaN'::numeric / 0
12::numeric % 5.5
-7.5 % 2
'1e3'::numeric
'-0.00'::numeric
'Infinity'::numeric
'-inf'::numeric
'nan'::numeric
'abc'::numeric
'1e1000000'::numeric
'Infinity'::numeric - 'Infinity'::numeric
'Infinity'::numeric * 0
'NaN'::numeric = 'NaN'::numeric
'NaN'::numeric > 'Infinity'::numeric
1.0 = 1.00
12345.678::numeric(10,2)
2.345::numeric(5,2)
-2.345::numeric(5,2)
12345.6::numeric(3,1)
1::numeric(5,6)
0.001::numeric(5,6)
12345::numeric(5,-2)
'Infinity'::numeric(5,2)
'NaN'::numeric(5,2)
2::numeric ^ 10
2::numeric ^ 100
1.5::numeric ^ 2
2::numeric ^ 0.5
0.5::numeric ^ (-3)
10::numeric ^ (-20)
1.1::numeric ^ 50
3::numeric ^ 1.5
0::numeric ^ 0
0::numeric ^ (-1)
(-8)::numeric ^ 0.5
sqrt(2::numeric)
sqrt(100::numeric)
sqrt(1e10::numeric)
sqrt(0.0001::numeric)
sqrt(-1::numeric)
exp(1::numeric)
exp(10::numeric)
exp(-10::numeric)
ln(2::numeric)
ln(1e10::numeric)
ln(1.0001::numeric)
ln(0::numeric)
log(100::numeric)
log(2::numeric)
log(2::numeric, 8::numeric)
log10(1000::numeric)
log(2.5::numeric)
round(-2.5::numeric)
round(2.5::numeric)
round(1.2345::numeric, 2)
round(1234.5::numeric, -2)
round(1.5::numeric, 0)
trunc(-1.7::numeric)
trunc(1.2345, 2)
trunc(1234.5, -2)
ceil(-1.5::numeric)
ceiling(1.2::numeric)
floor(-1.5::numeric)
abs(-3.50::numeric)
sign(-2.5::numeric)
mod(-7::numeric, 2)
mod(7, 3)
mod(-7, 3)
div(-7::numeric, 2)
factorial(20)
factorial(25)
gcd(12, 18)
gcd(12.5, 7.5)
lcm(4, 6)
lcm(4::numeric, 6.0)
width_bucket(5.35, 0.024, 10.06, 5)
width_bucket(5.35::float8, 0.024::float8, 10.06::float8, 5)
width_bucket(-1::float8, 0::float8, 10::float8, 5)
width_bucket(10::float8, 0::float8, 10::float8, 5)
scale(1.2300)
min_scale(1.2300)
trim_scale(1.2300)
-(1.5)
(12.5)::bigint
(-12.5)::integer
(1e30)::bigint
# --- booleans
't'::boolean
'yes'::boolean
'of'::boolean
'o'::boolean
'  TRUE '::boolean
'2'::boolean
true = 't'
true < false
# --- text
'abc' || 'def'
'abc' || 1
1 || 'abc'
'abc' || NULL
'a'::varchar(3) || 'b'::varchar(3)
'abcd'::varchar(3)
'abc   '::varchar(3)
'ab'::char(4)
'ab'::char(4) || 'c'
'ab'::char(4) = 'ab'
length('ab'::char(4))
'abcdef'::text::varchar(3)
'héllo'::varchar(3)
length('héllo')
char_length('héllo')
octet_length('héllo')
bit_length('abc')
lower('HéLLO')
upper('héllo')
initcap('hello wORLD foo-bar')
substring('hello', 2, 3)
substring('hello', 0, 3)
substring('hello', -1, 3)
substring('hello', 3)
substring('hello', 2, -1)
substr('hello', 2, 2)
substring('foobar', 'o.b')
substring('foobar', 'o(.)b')
position('lo' IN 'hello')
strpos('hello', 'l')
trim('  ab  ')
btrim('xxabxx', 'x')
ltrim('  ab  ')
rtrim('abxx', 'x')
lpad('hi', 5)
lpad('hi', 5, 'xy')
lpad('hello', 3)
rpad('hi', 5, 'xy')
replace('abcabc', 'b', 'XX')
split_part('a,b,c', ',', 2)
split_part('a,b,c', ',', 5)
split_part('a,b,c', ',', -1)
split_part('a,b,c', ',', 0)
left('hello', 2)
left('hello', -2)
right('hello', 2)
right('hello', -2)
repeat('ab', 3)
repeat('ab', -1)
reverse('héllo')
starts_with('hello', 'he')
md5('abc')
ascii('A')
ascii('')
chr(65)
chr(0)
translate('12345', '143', 'ax')
overlay('Txxxxas' placing 'hom' from 2 for 4)
quote_ident('foo')
quote_ident('Foo bar')
quote_ident('select')
quote_literal('O''Reilly')
quote_literal('a\b')
concat('a', 1, NULL, true, 2.50)
concat_ws(',', 'a', NULL, 'b', 3)
format('Hello %s, %I and %L', 'world', 'Some Name', 'it''s')
format('%s|%5s|%-5s|', 'a', 'b', 'c')
format('%2$s %1$s', 'a', 'b')
format('%L', NULL)
format('%s %s', 'a')
format('100%%')
'abc' LIKE 'a%'
'abc' LIKE 'A%'
'abc' ILIKE 'A%'
'a_c' LIKE 'a\_c'
'abc' LIKE 'a\_c'
'abc' ~~ '_b_'
'abc' !~~ 'a%'
'abc' ~ 'b'
'abc' ~ '^b'
'ABC' ~* 'b'
'abc' !~ 'z'
regexp_replace('foobarbaz', 'b..', 'X')
regexp_replace('foobarbaz', 'b..', 'X', 'g')
regexp_replace('foobarbaz', 'b(.)(.)', '\2\1', 'g')
regexp_replace('Hello', 'l', 'L', 'gi')
regexp_match('foobarbequebaz', 'bar.*que')
regexp_match('foobarbequebaz', '(bar)(beque)')
regexp_match('abc', 'z')
SRF regexp_matches('foobarbequebazilbarfbonk', '(b[^b]+)(b[^b]+)', 'g')
string_to_array('a,b,,c', ',')
string_to_array('a,b,NULL,c', ',', 'NULL')
string_to_array('abc', NULL)
string_to_array('', ',')
array_to_string('{1,NULL,3}'::int[], ',')
array_to_string('{1,NULL,3}'::int[], ',', '*')
'abc' < 'abd'
'a' < 'B'
'Z' < 'a'
'abc'::name
'abc'::bytea
'\x0001ff'::bytea
'\x0g'::bytea
'\x012'::bytea
'a\\b\001'::bytea
length('\x0001ff'::bytea)
md5('\x00'::bytea)
sha256('abc'::bytea)
encode('\x00ab5c'::bytea, 'hex')
encode('\x00ab5c'::bytea, 'base64')
encode('ab\000c\\'::bytea, 'escape')
decode('00ab', 'hex')
decode('AKtc', 'base64')
decode('abc', 'foo')
'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid
'A0EEBC999C0B4EF8BB6D6BB9BD380A11'::uuid
'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'::uuid
'a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11'::uuid
'a0eebc99'::uuid
'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid < 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid
# --- dates and times
'2024-01-02'::date
'01/02/2024'::date
'20240102'::date
'Jan 2 2024'::date
'2 January 2024'::date
'2024-13-01'::date
'2024-02-30'::date
'2023-02-29'::date
'2024-02-29'::date
'infinity'::date
'-infinity'::date
'epoch'::date
'abc'::date
'2024-01-02'::date + 30
30 + '2024-01-02'::date
'2024-03-01'::date - 1
'2024-03-01'::date - '2024-01-01'::date
'2024-01-31'::date + '1 month'::interval
'2024-01-02'::date + '03:04:05'::time
'2024-01-02'::date < '2024-01-02 00:00:01'::timestamp
'2024-01-02'::date = '2024-01-02 00:00:00'::timestamp
'infinity'::date > '9999-12-31'::date
'03:04:05'::time
'03:04:05.123456'::time
'3:04 pm'::time
'12:00 am'::time
'24:00:01'::time
'03:04:05'::time + '1 hour'::interval
'23:00'::time + '2 hours'::interval
'03:04:05'::time - '01:00:00'::time
'2024-01-02 03:04:05'::timestamp
'2024-01-02T03:04:05.123400'::timestamp
'2024-01-02 03:04:05+02'::timestamp
'2024-01-02 03:04'::timestamp
'Jan 2 2024 10:00pm'::timestamp
'2024-01-02 25:00:00'::timestamp
'2024-01-02 03:04:05.6'::timestamp(0)
'2024-01-02 03:04:05.123456'::timestamp(3)
'infinity'::timestamp
'epoch'::timestamp
'2024-01-03 10:00'::timestamp - '2024-01-01'::timestamp
'2024-01-01'::timestamp - '2024-01-03 10:00'::timestamp
'2024-01-31'::timestamp + '1 month'::interval
'2024-02-29'::timestamp + '1 year'::interval
'2024-01-31'::timestamp - '1 month 1 day 1 hour'::interval
'2024-01-02 03:04:05'::timestamp + '1.5 days'::interval
'2024-01-02 03:04:05+02'::timestamptz
'2024-01-02 03:04:05'::timestamptz
'2024-01-02 03:04:05 America/New_York'::timestamptz
'2024-07-02 03:04:05 PST'::timestamptz
'2024-01-02 03:04:05+05:30'::timestamptz
'2024-01-02T03:04:05Z'::timestamptz
'2024-01-02 03:04:05+02'::timestamptz::timestamp
'2024-01-02 03:04:05'::timestamp::timestamptz
'2024-01-02 03:04:05+02'::timestamptz::date
'2024-01-02 03:04:05+02'::timestamptz::time
'2024-01-02 03:04:05'::timestamp::date
'2024-01-02'::date::timestamptz
SET timezone = 'America/New_York'
'2024-01-02 03:04:05+02'::timestamptz
'2024-07-02 03:04:05'::timestamptz
'2024-03-09 12:00'::timestamptz + '1 day'::interval
'2024-03-09 12:00'::timestamptz + '24 hours'::interval
'2024-03-10 12:00'::timestamptz - '2024-03-09 12:00'::timestamptz
'2024-03-09 12:00'::timestamptz::date
date_trunc('day', '2024-03-10 12:00'::timestamptz)
date_trunc('month', '2024-03-09 12:00'::timestamptz)
extract(hour from '2024-01-02 03:04:05+00'::timestamptz)
extract(timezone from '2024-01-02 03:04:05+00'::timestamptz)
extract(epoch from '2024-01-02 03:04:05+00'::timestamptz)
date_part('timezone_hour', '2024-07-02 03:04:05+00'::timestamptz)
'2024-01-02 03:04:05'::timestamp::timestamptz
'2024-01-02'::date::timestamptz
'2024-11-03 01:30'::timestamptz
SET timezone = 'Asia/Kolkata'
'2024-01-02 03:04:05+02'::timestamptz
'1900-01-01 00:00'::timestamptz
SET timezone = 'UTC'
date_trunc('hour', '2024-01-02 03:04:05.5'::timestamp)
date_trunc('week', '2024-01-04 03:04:05'::timestamp)
date_trunc('quarter', '2024-05-04'::timestamp)
date_trunc('year', '2024-05-04'::timestamp)
date_trunc('decade', '2024-05-04'::timestamp)
date_trunc('century', '2024-05-04'::timestamp)
date_trunc('millennium', '2024-05-04'::timestamp)
date_trunc('milliseconds', '2024-01-02 03:04:05.123456'::timestamp)
date_trunc('foo', '2024-01-02'::timestamp)
date_trunc('hour', '1 day 03:04:05'::interval)
date_trunc('year', '3 years 4 months'::interval)
extract(year from '2024-01-02 03:04:05.5'::timestamp)
extract(month from '2024-01-02'::timestamp)
extract(second from '2024-01-02 03:04:05.5'::timestamp)
extract(milliseconds from '2024-01-02 03:04:05.5'::timestamp)
extract(microseconds from '2024-01-02 03:04:05.5'::timestamp)
extract(epoch from '2024-01-02 03:04:05.5'::timestamp)
extract(dow from '2024-01-07'::timestamp)
extract(isodow from '2024-01-07'::timestamp)
extract(doy from '2024-02-01'::timestamp)
extract(week from '2024-01-01'::timestamp)
extract(isoyear from '2024-12-30'::timestamp)
extract(quarter from '2024-05-01'::timestamp)
extract(century from '2000-12-31'::timestamp)
extract(millennium from '2001-01-01'::timestamp)
extract(decade from '2024-01-01'::timestamp)
extract(julian from '2024-01-02'::date)
extract(julian from '2024-01-02 12:00'::timestamp)
extract(epoch from '2024-01-02'::date)
extract(year from '2024-01-02'::date)
extract(hour from '2024-01-02'::date)
extract(foo from '2024-01-02'::timestamp)
extract(epoch from 'infinity'::timestamp)
extract(hour from '03:04:05.5'::time)
extract(epoch from '03:04:05.5'::time)
extract(epoch from '1 year 2 mons 3 days 04:05:06.5'::interval)
extract(hour from '1 day 27:04:05'::interval)
extract(month from '14 mons'::interval)
extract(year from '-14 mons'::interval)
date_part('year', '2024-01-02'::timestamp)
date_part('second', '2024-01-02 03:04:05.5'::timestamp)
date_part('epoch', '2024-01-02 03:04:05.5'::timestamp)
date_part('dow', '2024-01-07'::date)
age('2024-03-09'::timestamp, '2023-01-31 10:00'::timestamp)
age('2023-01-31'::timestamp, '2024-03-09'::timestamp)
age('2024-03-31'::timestamp, '2024-02-29'::timestamp)
age('2024-03-01'::timestamp, '2024-01-31'::timestamp)
make_date(2024, 2, 29)
make_date(2023, 2, 29)
make_time(3, 4, 5.5)
make_time(25, 4, 5)
make_timestamp(2024, 1, 2, 3, 4, 5.5)
make_timestamptz(2024, 1, 2, 3, 4, 5.5, 'America/New_York')
make_interval(1, 2, 3, 4, 5, 6, 7.5)
make_interval(0, 0, 0, 1)
to_timestamp(0)
to_timestamp(1704164645.5)
justify_days('65 days'::interval)
justify_hours('50 hours'::interval)
justify_interval('1 mon -1 hour'::interval)
justify_interval('-1 mon 50 hours'::interval)
isfinite('infinity'::date)
isfinite('2024-01-02'::timestamp)
timezone('America/New_York', '2024-01-02 03:04:05+00'::timestamptz)
timezone('America/New_York', '2024-01-02 03:04:05'::timestamp)
SRF generate_series('2024-01-01'::timestamp, '2024-01-02'::timestamp, '6 hours'::interval)
SRF generate_series('2024-01-31'::timestamp, '2024-05-01'::timestamp, '1 month'::interval)
# --- intervals
'1 year 2 mons 3 days 04:05:06'::interval
'1 day'::interval
'-1 days +02:03'::interval
'@ 1 day ago'::interval
'1.5 years'::interval
'1.5 months'::interval
'1.5 days'::interval
'1.5 hours'::interval
'P1Y2M3DT4H5M6.5S'::interval
'PT1.5S'::interval
'P1W'::interval
'10'::interval
'1-2'::interval
'2 hours 30 minutes'::interval
'-1 day -02:00:00'::interval
'1 week 2 days'::interval
'3 mons -1 days'::interval
'100 milliseconds'::interval
'1 microsecond'::interval
'2 decades'::interval
'1 century'::interval
'01:02:03.456789'::interval
'-01:02:03'::interval
'1 day -1 second'::interval
'abc'::interval
'1 fortnight'::interval
'1 mon'::interval = '30 days'::interval
'1 day'::interval = '24 hours'::interval
'1 mon'::interval > '29 days 23:59:59'::interval
'1 day'::interval + '2 hours'::interval
'1 day'::interval - '2 hours'::interval
-('1 day 2 hours'::interval)
'1 mon 1 day'::interval * 1.5
'1 mon'::interval / 7
'1 mon'::interval * 0.3333
'1 day 1 sec'::interval / 3
2 * '1 hour'::interval
'1 hour'::interval / 0
'1 day 02:00:00'::interval(0)
'01:02:03.456789'::interval(2)
# --- json / jsonb
'{"b": 1, "a": [1, 2.50, "x"], "b": 2}'::jsonb
'{"aa": 1, "b": 2, "a": 3}'::jsonb
'{"a":1}'::json
'  [1, 2]  '::jsonb
'1e2'::jsonb
'1.50'::jsonb
'"a\nb"'::jsonb
'"\u00e9"'::jsonb
'"\u0000"'::jsonb
'{"a": }'::jsonb
'{"a": 1'::jsonb
'null'::jsonb
'{"a": {"b": [1, 2]}}'::jsonb -> 'a'
'{"a": {"b": [1, 2]}}'::jsonb -> 'z'
'[1, 2, 3]'::jsonb -> 1
'[1, 2, 3]'::jsonb -> -1
'[1, 2, 3]'::jsonb -> 5
'{"a": "x"}'::jsonb ->> 'a'
'{"a": null}'::jsonb ->> 'a'
'{"a": null}'::jsonb -> 'a'
'{"a": [1, 2]}'::jsonb ->> 'a'
'{"a": {"b": [1, 2]}}'::jsonb #> '{a,b,1}'
'{"a": {"b": [1, 2]}}'::jsonb #>> '{a,b}'
'{"a": {"b": [1, 2]}}'::jsonb #>> '{a,x}'
'{"a": 1, "b": [1, 2, 3]}'::jsonb @> '{"b": [3]}'
'{"a": 1, "b": [1, 2, 3]}'::jsonb @> '{"b": 3}'
'{"a": 1}'::jsonb <@ '{"a": 1, "b": 2}'
'[1, 2, [3]]'::jsonb @> '[[3]]'
'[1, 2]'::jsonb @> '1'
'"a"'::jsonb @> '"a"'
'{"a": 1}'::jsonb ? 'a'
'["a", "b"]'::jsonb ? 'a'
'[1]'::jsonb ? '1'
'{"a": 1, "b": 2}'::jsonb ?| '{b,c}'
'{"a": 1, "b": 2}'::jsonb ?& '{a,c}'
'[1]'::jsonb || '{"a": 1}'
'{"a": 1}'::jsonb || '{"a": 2, "b": 3}'
'1'::jsonb || '2'
'{"a": 1, "b": 2}'::jsonb - 'a'
'["a", "b", "a"]'::jsonb - 'a'
'[1, 2, 3]'::jsonb - 1
'[1, 2, 3]'::jsonb - -1
'{"a": 1, "b": 2, "c": 3}'::jsonb - '{a,c}'::text[]
'{"a": {"b": 1, "c": 2}}'::jsonb #- '{a,b}'
'1'::jsonb - 'a'
'{"a": 1}'::jsonb = '{"a": 1.0}'
'{"a": 1}'::jsonb < '{"a": 1, "b": 0}'
'[1]'::jsonb < '{}'
'null'::jsonb < '""'
'true'::jsonb > '1'
jsonb_typeof('{"a": 1}')
jsonb_typeof('1.5')
jsonb_typeof('null')
json_typeof('"x"')
jsonb_array_length('[1, 2, [3]]')
jsonb_array_length('{}')
jsonb_array_length('1')
jsonb_set('{"a": [1, 2]}', '{a,0}', '"x"')
jsonb_set('{"a": [1, 2]}', '{a,5}', '"x"')
jsonb_set('{"a": [1, 2]}', '{a,-5}', '"x"')
jsonb_set('{"a": 1}', '{b}', '2')
jsonb_set('{"a": 1}', '{b}', '2', false)
jsonb_set('{"a": 1}', '{x,y}', '2')
jsonb_insert('{"a": [0, 1, 2]}', '{a,1}', '"new"')
jsonb_insert('{"a": [0, 1, 2]}', '{a,1}', '"new"', true)
jsonb_insert('{"a": 1}', '{a}', '2')
jsonb_strip_nulls('{"a": 1, "b": null, "c": [null, {"d": null}]}')
jsonb_pretty('{"a": [1, {"b": 2}], "c": {}}')
jsonb_extract_path('{"a": {"b": [1, 2]}}', 'a', 'b')
jsonb_extract_path_text('{"a": {"b": "x"}}', 'a', 'b')
to_jsonb(1.50)
to_jsonb('text'::text)
to_jsonb('{1,2}'::int[])
to_jsonb('2024-01-02 03:04:05.5'::timestamp)
to_jsonb('2024-01-02 03:04:05.5+02'::timestamptz)
to_jsonb('2024-01-02'::date)
to_jsonb('NaN'::float8)
to_jsonb(true)
to_json('{{1,2},{3,4}}'::int[])
to_json('a"b'::text)
to_json('1 day'::interval)
jsonb_build_object('a', 1, 'b', '{1,2}'::int[], 'c', NULL)
json_build_object('a', 1, 'b', '{1,2}'::int[])
jsonb_build_object('a')
jsonb_build_object(NULL, 1)
jsonb_build_array(1, 'a', NULL, '{"x": 1}'::jsonb)
json_build_array(1, 'a', NULL)
SRF jsonb_object_keys('{"b": 1, "a": 2, "aa": 3}')
SRF jsonb_array_elements_text('[1, "a", null, {"b": 2}]')
SRF jsonb_array_elements('[1, "a", null]')
('{"a": 1.5}'::jsonb -> 'a')::numeric
('{"a": true}'::jsonb -> 'a')::boolean
('{"a": "x"}'::jsonb -> 'a')::integer
('{"a": 2.5}'::jsonb -> 'a')::integer
'{"a":1}'::json::jsonb
'{"b":1,"a":2}'::jsonb::json
# --- arrays
'{1,2,NULL,3}'::int[]
'{{1,2},{3,4}}'::int[]
'{"a b","NULL",NULL,"",x}'::text[]
'{ a , b }'::text[]
'{a\,b,"c\"d"}'::text[]
'[1:2]={1,2}'::int[]
'{1,2'::int[]
'{{1,2},{3}}'::int[]
'1,2'::int[]
'{1,a}'::int[]
'{}'::int[]
'{1.50,2}'::numeric[]
'{"\\x01"}'::bytea[]
'{t,f}'::boolean[]
'{2024-01-02,infinity}'::date[]
'{"1 day","2 hours"}'::interval[]
'{1,2}'::int[] = '{1,2}'::int[]
'{1,2}'::int[] < '{1,3}'::int[]
'{1,2}'::int[] < '{1,2,0}'::int[]
'{1,NULL}'::int[] > '{1,2}'::int[]
'{1,2}'::int[] || '{3,4}'::int[]
'{1,2}'::int[] || 3
0 || '{1,2}'::int[]
'{{1,2}}'::int[] || '{3,4}'::int[]
'{1,2}'::int[] || '{{3,4}}'::int[]
'{1,2,3}'::int[] @> '{2,3}'
'{1,2,3}'::int[] @> '{2,4}'
'{1,2}'::int[] <@ '{1,2,3}'
'{1,2}'::int[] && '{2,5}'
'{1,NULL}'::int[] @> '{NULL}'
array_length('{1,2,3}'::int[], 1)
array_length('{{1,2},{3,4}}'::int[], 2)
array_length('{1,2,3}'::int[], 2)
array_length('{}'::int[], 1)
array_lower('{1,2,3}'::int[], 1)
array_upper('{{1,2},{3,4}}'::int[], 1)
array_ndims('{{1,2},{3,4}}'::int[])
array_dims('{{1,2},{3,4}}'::int[])
cardinality('{{1,2},{3,4}}'::int[])
cardinality('{}'::int[])
array_append('{1,2}'::int[], 3)
array_prepend(0, '{1,2}'::int[])
array_cat('{1,2}'::int[], '{3}'::int[])
array_remove('{1,2,1,NULL}'::int[], 1)
array_remove('{1,2,1,NULL}'::int[], NULL)
array_replace('{1,2,1}'::int[], 1, 9)
array_position('{a,b,c,b}'::text[], 'b')
array_position('{a,b,c,b}'::text[], 'b', 3)
array_position('{a,b}'::text[], 'z')
array_positions('{a,b,c,b}'::text[], 'b')
array_fill(7, '{2,2}')
SRF unnest('{{1,2},{3,4}}'::int[])
SRF generate_series(1, 10, 3)
SRF generate_series(5, 1, -2)
SRF generate_series(1, 3)
SRF generate_series(1.5, 3)
SRF generate_series(0.1, 0.5, 0.2)
SRF generate_series(1, 3, 0)
SRF generate_series(9223372036854775806::bigint, 9223372036854775807::bigint)
# --- misc
num_nulls(1, NULL, 'a', NULL)
num_nonnulls(1, NULL, 'a', NULL)
pg_typeof(1)
pg_typeof(1.5)
pg_typeof('a'::varchar(3))
pg_typeof(1::bigint + 1)
pg_typeof('{1}'::int[])
1 + 'a'
'a' + 1
'1' + '2'
foo(1)
length(1)
abs('a')
abs(-5)
abs(-2147483648::integer)
# --- to_char / to_number / to_timestamp / to_date
to_char('2024-01-02 15:04:05.123456'::timestamp, 'YYYY-MM-DD HH24:MI:SS.US')
to_char('2024-01-02 15:04:05.123456'::timestamp, 'YYYY-MM-DD HH12:MI:SS.MS AM')
to_char('2024-01-02 03:04:05'::timestamp, 'Day, DD Month YYYY')
to_char('2024-01-02 03:04:05'::timestamp, 'FMDay, FMDD FMMonth YYYY')
to_char('2024-01-02 03:04:05'::timestamp, 'Dy Mon dd yy')
to_char('2024-01-02 03:04:05'::timestamp, 'DAY MONTH')
to_char('2024-01-02 03:04:05'::timestamp, 'DDD IW WW Q CC J D ID W')
to_char('2024-01-02 03:04:05'::timestamp, 'DDth FMDDth Mon RM')
to_char('2024-01-02 03:04:05'::timestamp, '"Quarter" Q, "week" IW')
to_char('2024-03-11 03:04:05'::timestamp, 'YYYY-MM-DD"T"HH24:MI:SS')
to_char('2024-01-02 03:04:05+00'::timestamptz, 'YYYY-MM-DD HH24:MI:SS TZ OF')
to_char('2024-01-02 03:04:05'::timestamp, 'Y,YYY yyyy a.m. pm')
to_char('1 day 03:04:05'::interval, 'HH24:MI:SS')
to_char(12345.678, '99999.99')
to_char(12345.678, 'FM99999.99')
to_char(-12.5, '999.9')
to_char(12.5, '999.9')
to_char(0.5, '9.99')
to_char(0.5, '0.99')
to_char(1234567, '9,999,999')
to_char(1234567, '999')
to_char(-1234.5, 'S9999.9')
to_char(1234.5, 'S9999.9')
to_char(-5, '999MI')
to_char(5, '999PL')
to_char(-5, 'SG999')
to_char(42, '00000')
to_char(42, 'FM00000')
to_char(3.14159::float8, '9.999')
to_char(1.5, 'FM9.990')
to_char(1.5, 'FM9.999')
to_char(12345.678, '9.99EEEE')
to_char(485, '999V99')
to_number('12,454.8-', '99G999D9S')
to_number('1,234.56', '9,999.99')
to_number('  42', '999')
to_timestamp('2024-01-02 03:04:05', 'YYYY-MM-DD HH24:MI:SS')
to_timestamp('05 Dec 2000', 'DD Mon YYYY')
to_timestamp('2024-01-02 03:04:05 PM', 'YYYY-MM-DD HH12:MI:SS AM')
to_timestamp('2024-01-02 03:04:05.123', 'YYYY-MM-DD HH24:MI:SS.MS')
to_timestamp('2024-01-02 03:04:05 +05', 'YYYY-MM-DD HH24:MI:SS TZH')
to_timestamp('2024/13/02', 'YYYY/MM/DD')
to_date('05 Dec 2000', 'DD Mon YYYY')
to_date('20240229', 'YYYYMMDD')
to_date('2024-060', 'YYYY-DDD')
to_char(-12, 'S9999')
to_char(-12.5, '9999.9S')
to_char(-12.5, '9999.9MI')
to_char(-0.5, '9.99')
to_char(0, '9999')
to_char(0, '0999')
to_char(-1234567.891, '9G999G999D99')
to_char(1234567.891, 'FM9G999G999D99')
to_char(-42::bigint, 'FM999999')
to_char(123.456::real, '999.99')
to_char('NaN'::numeric, '999.99')
to_char(99.999, '99.99')
to_char(100, '99')
# --- casts to and from text, between arrays
true::text
false::varchar(3)
true::char(2)
1.50::text
'1 day'::interval::text
'{1,2}'::int[]::text
'{"a":1}'::jsonb::text
'ab'::char(4)::text
'ab'::char(4)::varchar
'ab'::char(4) || '|'
'yes'::text::boolean
'{1,2}'::int[]::bigint[]
'{1.5,2.5}'::numeric[]::int[]
'{a,bcd}'::text[]::varchar(2)[]
'{1,NULL}'::int[]::text[]
'12'::text::integer
(12)::text::integer + 1
'2024-01-02'::date::text
1e300::float8::real
'NaN'::numeric::float8
'Infinity'::float8::numeric
(2147483647::bigint + 1)::integer
32768::smallint
'1'::jsonb::integer
'"x"'::jsonb::text
'{"a":1}'::jsonb::json
'{"a":  1}'::json::text
'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid::text
'\x41'::bytea::text
'abc'::text::bytea
# --- more edge cases
'a%c' LIKE 'a\%c'
'a%c' LIKE 'a!%c' ESCAPE '!'
like_escape('a!%c', '!')
'abc' LIKE 'a%' ESCAPE ''
'a.c' ~ 'a\.c'
'ABC' ~ '[[:upper:]]+'
'foo bar' ~ '\mbar'
'abc' SIMILAR TO 'a%'
regexp_replace('aaa', 'a*?', 'X', 'g')
regexp_replace('abc', '(b)', '[\1]')
regexp_replace('abc', 'b', '\\')
regexp_match('abc', '(a)(x)?')
split_part('abc', '', 1)
replace('abc', '', 'x')
lpad('abc', 0)
rpad('', 3, 'ab')
substring('hello' from 2 for 2)
substring('hello' for 2)
'2024-01-31'::date + '1 mon'::interval
'2023-12-31 23:59:59.999999'::timestamp + '1 microsecond'::interval
'2024-02-29'::date - '1 year'::interval
'2024-01-01'::timestamp - '2023-01-01'::timestamp
'2024-01-01 00:00'::timestamp - '2024-01-01 00:00:00.5'::timestamp
age('2024-01-01'::timestamp, '2024-01-01'::timestamp)
age('2024-02-29'::timestamp, '2023-02-28'::timestamp)
age('2024-01-15 10:00'::timestamp, '2023-11-20 12:30'::timestamp)
'2024-01-02 03:04:05.999999'::timestamp(2)
'12:34:56.789'::time(1)
'1 day 25 hours'::interval
'-0.5 days'::interval
'0.5 mons'::interval
'1.5 weeks'::interval
'1 year 6 mons'::interval * 2
'1 hour'::interval / 3
'1 day'::interval * 0.1
'35 days'::interval > '1 mon'::interval
'Jan 2, 2024'::date
'January 2nd 2024'::date
'2024.01.02'::date
'Tue Jan 2 2024'::date
'2024-01-02 03:04:05.123456789'::timestamp
'2024-01-02T03:04'::timestamp
'2024-01-02 3:4:5'::timestamp
'2024-1-2'::date
'1/2/3'::date
' 2024-01-02 '::date
'2024-01-02 03:04:05 -3'::timestamptz
'2024-01-02 03:04:05+0530'::timestamptz
'2024-01-02 03:04:05 Europe/Paris'::timestamptz
'2024-06-02 03:04:05 CEST'::timestamptz
'today'::date < 'tomorrow'::date
date_trunc('week', '2024-01-07 10:00'::timestamp)
date_trunc('day', 'infinity'::timestamp)
extract(dow from 'infinity'::timestamp)
extract(epoch from '-1 day'::interval)
make_interval(0, 0, 0, 0, 0, 0, 1.5)
to_timestamp(-1.5)
justify_hours('-50 hours'::interval)
justify_days('-65 days'::interval)
'{"a": [1, {"b": null}]}'::jsonb #> '{a,1,b}'
'{"a": [1, {"b": null}]}'::jsonb #>> '{a,1,b}'
'[{"a": 1}, {"a": 2}]'::jsonb @> '[{"a": 1}]'
'{"a": {"b": 1, "c": 2}}'::jsonb @> '{"a": {"b": 1}}'
'{"a": 1}'::jsonb @> '{}'
'[]'::jsonb @> '[]'
'{"b": 2, "a": 1}'::jsonb = '{"a": 1, "b": 2}'
jsonb_typeof('[]')
'{"a":[1,2,3]}'::jsonb -> 'a' -> 2
('{"a":[1,2,3]}'::jsonb -> 'a') ->> 0
'"abc"'::jsonb ->> 0
'[1,2]'::jsonb ->> 'a'
'{"a": "x"}'::json ->> 'a'
'{"a": {"b": 2}}'::json -> 'a'
jsonb_build_object('a', 1.50, 'b', 'x'::text, 'c', true, 'd', '{"e": 1}'::json)
to_jsonb('a\b'::text)
to_jsonb(E'a\nb'::text)
to_jsonb('{1.5,NULL}'::numeric[])
json_build_array()
jsonb_build_object()
'{1,2,3}'::int[] = '{1,2,3}'::bigint[]
'{1,2}'::int[] <> '{1,2,NULL}'::int[]
array_to_string('{a,b}'::text[], NULL)
array_length('{{1},{2},{3}}'::int[], 1)
cardinality('{NULL}'::int[])
'{a,b}'::text[] || 'c'
'{}'::text[] || '{}'::text[]
array_cat('{}'::int[], '{1}')
'{1,2,3}'::int[] && '{}'
# --- numeric and float edge cases
0.1 + 0.2
1.0 / 3.0
2.0 / 3
100 / 3.0
1 / 7.0
22 / 7::numeric(10,4)
0.5::numeric(2,0)
1.5::numeric(2,0)
-0.5::numeric(2,0)
99.5::numeric(2,0)
0.0001 * 0.0001
123.456 - 123.456
-(0.0)
1e-20::numeric * 1e-20
9999999999999999999::numeric + 1
(9223372036854775807::numeric + 1)::bigint
(-9223372036854775808)::bigint
-9223372036854775808::bigint
2147483647::integer * 2
-2147483648::integer * -1
(-32768)::smallint / (-1)::smallint
7::smallint % 3::bigint
4 # 1
1 << 33
1::bigint << 33
round(0.5::float8)
round(1.5::float8)
round(-0.5::float8)
round(2.675, 2)
round(-2.675, 2)
trunc(2.675, 2)
sqrt(0::numeric)
sqrt(2.0000)
exp(0::numeric)
ln(1::numeric)
power(2::numeric, -2)
power(-2::numeric, 3)
power(1.5::float8, 2::float8)
10::float8 ^ 308::float8
10::float8 ^ 309::float8
0.1::float8 * 3::float8
1e-300::float8 * 1e-300::float8
(1::float8 / 3::float8)::numeric
123456789.123456789::float8
'0.1'::real::float8
1::real / 3::real
16777217::real
'1.175494e-38'::real
mod(10, 0)
div(10::numeric, 0)
gcd(0, 0)
gcd(-2147483648, 0)
lcm(2147483647, 2)
factorial(0)
factorial(-1)
abs(-32768::smallint)
'  -0012  '::integer
'+5'::smallint
'5 5'::integer
''::integer
'0x10'::integer
'1_000'::integer
'١٢'::integer
'١٢'::numeric
'1e-5'::numeric
'.5e1'::numeric
'5.'::numeric
'-.0'::numeric
'1e+2'::numeric
# --- strings with unicode and edge cases
upper('ß')
lower('ÀÉÎ')
initcap('élan vital')
length('日本語')
octet_length('日本語')
substring('日本語テキスト', 2, 3)
left('日本語', 2)
reverse('日本語')
lpad('日本', 5, '*')
repeat('日', 3)
strpos('日本語', '語')
position('' IN 'abc')
split_part('日,本,語', ',', 2)
ascii('日')
chr(26085)
md5('日本語')
quote_literal('日本')
quote_ident('日本')
quote_ident('a"b')
format('%I', 'a"b')
format('%-10s|', '日本')
concat_ws('', 'a', 'b')
concat_ws(NULL, 'a', 'b')
'日本語' < 'abc'
'abc' || '日本'
translate('日本語', '本', 'X')
btrim('  日本  ')
to_char(1234.5, 'FM9,999.00')
encode('日本'::bytea, 'hex')
# --- more date/time, json and array edge cases
SET timezone = 'Europe/Berlin'
'2024-03-31 02:30'::timestamptz
'2024-10-27 02:30'::timestamptz
'2024-03-30 12:00'::timestamptz + '1 day'::interval
'2024-03-31 12:00'::timestamptz - '2024-03-30 12:00'::timestamptz
date_trunc('day', '2024-03-31 12:00+00'::timestamptz)
date_trunc('hour', '2024-10-27 02:30+00'::timestamptz)
extract(timezone_minute from '2024-01-02 03:04:05+00'::timestamptz)
to_char('2024-07-02 03:04:05+00'::timestamptz, 'HH24:MI TZ TZH:TZM')
age('2024-03-31 12:00+00'::timestamptz, '2024-01-31 12:00+00'::timestamptz)
make_timestamptz(2024, 7, 1, 12, 0, 0)
'2024-07-01'::date::timestamptz
'2024-07-01 00:00'::timestamp::timestamptz::date
timezone('UTC', '2024-07-01 12:00+02'::timestamptz)
SET timezone = 'UTC'
'0001-01-01'::date
'9999-12-31'::date
'2024-12-31'::date - '2024-01-01'::date
'2024-01-01'::date - '2024-12-31'::date
'2024-02-29'::date + '1 year'::interval
'2024-01-01'::date + '-1 day'::interval
'00:00:00'::time - '00:00:01'::time
'23:59:59.999999'::time + '1 microsecond'::interval
extract(week from '2021-01-03'::date)
extract(isoyear from '2021-01-03'::date)
extract(doy from '2024-12-31'::date)
date_part('month', '1 year 14 months'::interval)
date_part('day', '-3 days'::interval)
to_char('2024-12-30'::date, 'IYYY-IW-ID')
to_char('2024-01-02 00:00:00'::timestamp, 'HH12 AM')
to_char('2024-01-02 12:00:00'::timestamp, 'HH12 PM')
'1 mon'::interval - '1 day'::interval
'-1 mon'::interval
'1 mon -30 days'::interval = '0'::interval
'2 years 3 mons'::interval / 2
'1 year'::interval * 1.5
'1 day'::interval * -1
'1 hour'::interval * 'NaN'::float8
'178000000 years'::interval
'-178000000 years'::interval
jsonb_array_length('[]')
'[1, 2, 3]'::jsonb - 5
'{"a": 1}'::jsonb - 0
'{"a": {"b": 1}}'::jsonb #- '{a,b,c}'
'[1, [2, 3]]'::jsonb #- '{1,0}'
'[1, 2]'::jsonb #- '{x}'
jsonb_set('[1, 2]', '{x}', '3')
jsonb_set('{"a": null}', '{a}', 'null')
jsonb_insert('[1, 2]', '{0}', '0')
jsonb_insert('[1, 2]', '{-1}', '9', true)
jsonb_strip_nulls('[null, 1]')
jsonb_pretty('[]')
jsonb_pretty('"x"')
'{"a": 1, "b": 2}'::jsonb ?| '{}'
'{"a": 1, "b": 2}'::jsonb ?& '{}'
'{"a": [1, 2]}'::jsonb @> '{"a": []}'
'[[1, 2]]'::jsonb @> '[1]'
'{"a": 1}'::jsonb || '[2]'
'"a"'::jsonb || '"b"'
'[]'::jsonb || '[]'
to_jsonb(12345678901234567890)
to_jsonb(1e-5::float8)
to_jsonb('-Infinity'::numeric)
to_jsonb('{{1,NULL},{3,4}}'::int[])
to_jsonb('{"a": 1}'::json)
to_jsonb('"x"'::jsonb)
jsonb_build_array('{1,2}'::int[], '{}'::text[])
'{1,2,3}'::int[] @> '{}'
'{}'::int[] <@ '{1}'
'{1,2}'::int[] || NULL::int[]
NULL::int[] || '{1}'::int[]
array_append(NULL::int[], 1)
array_remove('{}'::int[], 1)
array_position('{}'::int[], 1)
array_replace('{{1,2},{1,3}}'::int[], 1, 0)
array_to_string('{{a,b},{c,d}}'::text[], '-')
string_to_array('a||b', '||')
string_to_array('abc', '')
cardinality('{{}}'::int[])
'{{1,2},{3,4}}'::int[] = '{1,2,3,4}'::int[]
'{1,2,3,4}'::int[] < '{{1,2},{3,4}}'::int[]
'{{1,2}}'::int[] < '{{1,3}}'::int[]
'{a,B,c}'::text[] < '{a,b}'::text[]
# --- resolution with literals and mixed types
round(1, 2)
round(1.5::float8)
round('2.5')
1 = 1.0
1.5 = '1.5'
'1' = 1.5
'a'::char(3) = 'a'::varchar
'a '::varchar = 'a'::char(3)
'a'::name = 'a'
'2024-01-01'::date + '1 day'
'2024-01-01'::date - '2023-12-31'
'2024-01-01 10:00'::timestamp - '1 hour'
'1 hour'::interval + '2024-01-01'::date
1 + NULL
NULL + NULL
'a' || NULL
1.5 || 'x'
'{1,2}' || 3
3 || '{1,2}'
'{1,2}'::int[] || '{3}'
array_length('{1,2}', 1)
pg_typeof('abc')
pg_typeof(NULL)
pg_typeof(1 + 1.5)
pg_typeof(1::smallint + 1)
pg_typeof(1::real + 1)
pg_typeof(1::real + 1.5)
pg_typeof(1::numeric + 1::float8)
pg_typeof('1 day'::interval * 2)
pg_typeof('2024-01-01'::date - 1)
pg_typeof(now())
pg_typeof(2 ^ 2)
pg_typeof(2::numeric ^ 2)
pg_typeof(|/ 4)
pg_typeof(@ -4)
pg_typeof(-2::smallint)
pg_typeof('{1}'::int[] || 2::bigint)
lower(1)
length(1::text)
substr(12345::text, 2, 2)
concat(1.50, '|', 2::real)
5 / 2.0
5::float8 / 2
'5' / 2
2 * '3.5'
'abc' || 1::bytea
'\x01'::bytea || '\x02'::bytea
# --- numerics longer than decimal's default 28 digits
-(12345678901234567890.123456789012345678901)
@ (-12345678901234567890.123456789012345678901)
abs(-12345678901234567890.123456789012345678901)
round(-12345678901234567890123456789012345.5, -2)
trunc(12345678901234567890123456789012345.5, -2)
round(1.00000000000000000000000000000000000005, 37)
12345678901234567890.123456789012345678901::numeric(45,20)
to_char(-12345678901234567890123456.789, '9999999999999999999999999999.99')
to_number('12345678901234567890123456789.5', '99999999999999999999999999999.9')
'-9.7565346153395983756682824524E-22'::numeric
extract(julian from '2024-01-02 12:00:00.000001'::timestamp)
SRF generate_series(12345678901234567890123456789.1, 12345678901234567890123456791.1)
