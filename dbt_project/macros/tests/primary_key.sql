{#- Primary-key test: no row has a NULL in a key column and no key value repeats. One node and
    one query where `unique`/`unique_combination` plus a `not_null` per key column took one
    node and one scan each (dbt's per-node cost is most of an incremental run's tests).

    The repeat check trusts a valid unique index on exactly the key (key_checks.sql,
    repeated_keys); then only the NULL check, the one part the index does not enforce, reads
    the table (through the index for a one-column key). The failures are the repeated or
    NULL-holding key values, with their number of rows. -#}
{% test primary_key(model, columns) %}
{%- set columns = [columns] if columns is string else columns -%}
{%- set key = columns | join(', ') %}

with

repeated as (

    {{ repeated_keys(model, columns) }}

),

null_keys as (

    select {{ key }}, count(*) as copies
    from {{ model }}
    where {{ any_null(columns) }}
    group by {{ key }}

)

select *, 'repeated' as failure from repeated
union all
select *, 'null in the key' as failure from null_keys

{% endtest %}
