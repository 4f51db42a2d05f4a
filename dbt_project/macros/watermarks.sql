{#-
    Batch watermarks for incremental models.

    Landing commits batches strictly in batch_id order (ingestion/landing.py holds a lock), so
    "every batch above the last one a model has seen" is exactly the new data. Each incremental
    model that is not keyed on batch_id itself records, after a successful build, the highest
    batch of silver it has seen (post-hook `record_batch_watermark()`); on the next incremental
    run `batch_watermark()` returns it. A full refresh starts from nothing.
-#}

{% macro create_watermark_table() %}
    create schema if not exists audit;
    create table if not exists audit.model_watermarks (
        model_name text primary key,
        batch_id   bigint not null,
        updated_at timestamptz not null default now()
    );
    {{ create_untested_batch_floor() }}
    {{ create_candidate_changes_table() }}
{% endmacro %}

{#- Bronze data tests check each landed batch once, before silver takes it (their `where` is
    set for the folder in dbt_project.yml). raw is append-only, so the batches above the
    highest one int_events holds are the ones no run has tested yet: all of them on an empty
    warehouse. A failing test stops the build before int_events, so its batches are tested
    again by the next run. Without this, every hourly run rescanned all of raw.events. -#}
{% macro create_untested_batch_floor() %}
    {%- set int_events = api.Relation.create(
        database=target.database, schema='silver', identifier='int_events') -%}
    create or replace function audit.untested_batch_floor() returns bigint
    language plpgsql stable as $$
    begin
        if to_regclass('{{ int_events }}') is null then
            return -1;
        end if;
        return (select coalesce(max(batch_id), -1) from {{ int_events }});
    end
    $$;
{% endmacro %}

{% macro batch_watermark() %}
    {%- if not execute or not is_incremental() or flags.FULL_REFRESH -%}
        {{ return(-1) }}
    {%- endif -%}
    {%- set query -%}
        select coalesce(
            (select batch_id from audit.model_watermarks where model_name = '{{ this }}'), -1)
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0]) }}
{% endmacro %}

{% macro record_batch_watermark(source_relation=none) %}
    {%- set source_relation = source_relation or ref('int_load_batches') -%}
    insert into audit.model_watermarks (model_name, batch_id, updated_at)
    select '{{ this }}', coalesce(max(batch_id), -1), now() from {{ source_relation }}
    on conflict (model_name) do update
        set batch_id = excluded.batch_id, updated_at = excluded.updated_at
{% endmacro %}

{#- The highest landed batch this run works on: fixed by int_load_batches at the start of the
    run, so a file landing while dbt runs is neither half-seen nor skipped. -#}
{% macro batch_horizon() -%}
    (select coalesce(max(batch_id), 0) from {{ ref('int_load_batches') }})
{%- endmacro %}
