{#-
    The payload contract of ../shared/spec/events.md, defined once.

    `payload_invalid_reason(payload, event_type)` is NULL for a valid payload, else the first
    broken rule as a sentence naming the field. Bronze typed views carry it as
    `invalid_reason`; silver keeps only valid events; audit lists the others.

    Rule kinds:
      id        non-empty string
      text      non-empty string
      money     integer >= 0 in minor units (no fraction, no exponent, no sign)
      int       integer (any sign)
      count     integer >= 0
      number    number >= 0 (fractions allowed)
      bool      true or false
      currency  a currency of the `currencies` seed (the codes the FX table can convert)
    A field name ending in "?" is optional: checked only when present and not null.
-#}

{% macro payload_contract() %}
    {{ return({
        'player.registered': [],
        'session.started': [('session_id', 'id')],
        'session.ended': [('session_id', 'id')],
        'bet.placed': [('bet_id', 'id'), ('game_id', 'id'), ('provider_id', 'id'),
                       ('stake_minor', 'money'), ('currency', 'currency'), ('in_bonus', 'bool')],
        'bet.settled': [('bet_id', 'id'), ('game_id', 'id'), ('provider_id', 'id'),
                        ('stake_minor', 'money'), ('win_minor', 'money'),
                        ('currency', 'currency'), ('in_bonus', 'bool')],
        'wallet.debit': [('amount_minor', 'money'), ('currency', 'currency'),
                         ('reason', 'text'), ('reference_id', 'id')],
        'wallet.credit': [('amount_minor', 'money'), ('currency', 'currency'),
                          ('reason', 'text'), ('reference_id', 'id')],
        'payment.intent': [('payment_id', 'id'), ('amount_minor', 'money'),
                           ('currency', 'currency'), ('method', 'text')],
        'payment.authorized': [('payment_id', 'id'), ('amount_minor', 'money'),
                               ('currency', 'currency'), ('method', 'text')],
        'payment.captured': [('payment_id', 'id'), ('amount_minor', 'money'),
                             ('currency', 'currency'), ('method', 'text'), ('fee_minor?', 'money')],
        'payment.failed': [('payment_id', 'id'), ('method', 'text'), ('error_code', 'text')],
        'bonus.issued': [('bonus_id', 'id'), ('amount_minor', 'money'), ('currency', 'currency')],
        'bonus.consumed': [('bonus_id', 'id'), ('amount_minor', 'money'), ('currency', 'currency')],
        'jackpot.contribution': [('game_id', 'id'), ('amount_minor', 'money'),
                                 ('currency', 'currency')],
        'rg.limit.hit': [('limit_type?', 'text')],
        'rg.reality_check': [('limit_type?', 'text')],
        'credits.earn': [('amount', 'count')],
        'credits.spend': [('amount', 'count')],
        'gems.earn': [('amount', 'count')],
        'gems.spend': [('amount', 'count')],
        'gems.purchase': [('gems', 'count'), ('amount_minor', 'money'), ('currency', 'currency')],
        'dungeon.complete': [],
        'craft.complete': [],
        'pvp.battle': [],
        'pvp.ranked.battle': [],
        'raid.complete': [],
        'market.sale': [],
        'points.awarded': [('game_id', 'id'), ('task_id', 'id'), ('points', 'int'),
                           ('minutes', 'number')],
        'device.bound': [('device_id', 'id')],
        'device.unbound': [('device_id', 'id')],
        'affinity.triggered': [('device_id', 'id'), ('rule_key', 'text'), ('change', 'int'),
                               ('source', 'text')],
        'affinity.admin_adjust': [('device_id', 'id'), ('delta', 'int'),
                                  ('operator_admin_id', 'id'), ('reason', 'text')],
    }) }}
{% endmacro %}

{% macro known_event_types() -%}
    ({% for event_type in payload_contract().keys() %}'{{ event_type }}'{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}

{#- One rule as a CASE arm that yields its reason when broken. -#}
{% macro _payload_rule(payload, field, kind) -%}
    {%- set optional = field.endswith('?') -%}
    {%- set name = field.rstrip('?') -%}
    {%- set value = payload ~ " -> '" ~ name ~ "'" -%}
    {%- set text = payload ~ " ->> '" ~ name ~ "'" -%}
    {%- set type = "jsonb_typeof(" ~ value ~ ")" -%}
    {%- if kind in ('id', 'text') -%}
        {%- set ok = type ~ " = 'string' and btrim(" ~ text ~ ") <> ''" -%}
        {%- set wants = "a non-empty string" -%}
    {%- elif kind == 'money' -%}
        {%- set ok = type ~ " = 'number' and " ~ text ~ " ~ '^[0-9]{1,18}$'" -%}
        {%- set wants = "a non-negative integer in minor units" -%}
    {%- elif kind == 'int' -%}
        {%- set ok = type ~ " = 'number' and " ~ text ~ " ~ '^-?[0-9]{1,18}$'" -%}
        {%- set wants = "an integer" -%}
    {%- elif kind == 'count' -%}
        {%- set ok = type ~ " = 'number' and " ~ text ~ " ~ '^[0-9]{1,18}$'" -%}
        {%- set wants = "a non-negative integer" -%}
    {%- elif kind == 'number' -%}
        {%- set ok = type ~ " = 'number' and (" ~ value ~ ")::numeric >= 0" -%}
        {%- set wants = "a number >= 0" -%}
    {%- elif kind == 'bool' -%}
        {%- set ok = type ~ " = 'boolean'" -%}
        {%- set wants = "true or false" -%}
    {%- elif kind == 'currency' -%}
        {%- set ok = type ~ " = 'string' and " ~ text ~ " in (select currency from " ~ ref('currencies') ~ ")" -%}
        {%- set wants = "a known currency code (seed currencies)" -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown payload rule kind " ~ kind) }}
    {%- endif -%}
    {%- if optional -%}
        case when {{ type }} is not null and {{ type }} <> 'null' and not ({{ ok }})
            then '{{ name }} must be {{ wants }}, got ' || left(({{ value }})::text, 40) end
    {%- else -%}
        case when {{ type }} is null or {{ type }} = 'null' then 'payload.{{ name }} is missing'
             when not ({{ ok }}) then '{{ name }} must be {{ wants }}, got ' || left(({{ value }})::text, 40) end
    {%- endif -%}
{%- endmacro %}

{#- NULL when the payload satisfies its type's contract (and for unknown types: those are
    reported separately); else the first broken rule. -#}
{% macro payload_invalid_reason(payload='payload', event_type='event_type') -%}
    case {{ event_type }}
    {%- for type_name, rules in payload_contract().items() if rules %}
        when '{{ type_name }}' then coalesce(
            {%- for field, kind in rules %}
            {{ _payload_rule(payload, field, kind) }}{{ "," if not loop.last }}
            {%- endfor %}
        )
    {%- endfor %}
    end
{%- endmacro %}
