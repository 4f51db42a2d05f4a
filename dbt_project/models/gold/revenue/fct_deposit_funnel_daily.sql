-- Grain: one row per (day, brand_id, region, method), day = UTC day of the payment's first
-- payment.intent. The deposit funnel per payment (int_payments, each step at its first event):
-- 1 intent -> 2 authorized -> 3 captured -> 4 credited (wallet.credit, reason deposit,
-- reference_id = payment_id). A payment reaches step k when it reached step k-1 and its step-k
-- time is at or after its step-(k-1) time and at most funnel_window_seconds after the intent.
--
-- Incremental: `day` is the unique key. A run recomputes every day a payment changed since the
-- last run can have been counted on ([intent_date, latest_intent_date] of int_payments rows
-- above the watermark); the pre-hook deletes those days first, so a day left without
-- payments keeps no stale row. A change of funnel_window_seconds needs a --full-refresh.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='day',
        on_schema_change='fail',
        pre_hook="{{ delete_changed_days(ref('int_payments'), 'intent_date', 'latest_intent_date') }}",
        post_hook=["{{ record_candidate_changes() }}", "{{ record_batch_watermark() }}"],
    )
}}

with

payments as (

    select * from {{ ref('int_payments') }}

),

{% if is_incremental() %}
touched_days as (

    -- reads int_payments itself: a CTE referenced twice would be materialized in full; the
    -- pre-hook deletes the same days (macros/changed_days.sql)
    {{ recomputed_days(ref('int_payments'), 'intent_date', 'latest_intent_date') }}

),
{% endif %}

intents as (

    select
        *,
        intent_at + make_interval(secs => {{ var('funnel_window_seconds') }}) as window_ends_at
    from payments
    where intent_at is not null
        {% if is_incremental() %}
        and intent_date in (select day from touched_days)
        {% endif %}

),

authorized as (

    select
        *,
        coalesce(authorized_at >= intent_at and authorized_at <= window_ends_at, false)
            as is_authorized
    from intents

),

captured as (

    select
        *,
        coalesce(
            is_authorized and captured_at >= authorized_at
            and captured_at <= window_ends_at, false
        ) as is_captured
    from authorized

),

credited as (

    select
        *,
        coalesce(
            is_captured and credited_at >= captured_at
            and credited_at <= window_ends_at, false
        ) as is_credited
    from captured

),

daily as (

    select
        intent_date as day,
        brand_id,
        region,
        method,
        count(*) as intents,
        count(*) filter (where is_authorized) as authorized,
        count(*) filter (where is_captured) as captured,
        count(*) filter (where is_credited) as credited

    from credited
    group by 1, 2, 3, 4

),

final as (

    select
        day,
        brand_id,
        region,
        method,
        intents,
        authorized,
        captured,
        credited,
        authorized::numeric / nullif(intents, 0) as authorized_rate,
        captured::numeric / nullif(intents, 0) as captured_rate,
        credited::numeric / nullif(intents, 0) as credited_rate

    from daily

)

select * from final
