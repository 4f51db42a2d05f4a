-- Grain: one row per payment_id: the deposit funnel's steps of one payment, each at the time of
-- its first valid, deduplicated event: payment.intent (the first by (occurred_at, event_id),
-- which also gives brand, region, player, method, currency and amount), payment.authorized,
-- payment.captured, and the deposit credit (a wallet.credit with reason `deposit` whose
-- reference_id is the payment_id). A payment whose intent is missing has a row without one.
--
-- Incremental by batch, with state, like int_bets: a run merges the step events of the new
-- batches into the kept rows of the payments they touch (first times are minima, so the merge
-- is exact) and replaces those rows (delete+insert on payment_id); a row's batch_id is the
-- highest batch of its events. An earlier-dated second intent moves a payment to another day:
-- the days a payment can ever have been counted on lie in [intent_date, latest_intent_date].
{{
    config(
        unique_key='payment_id',
        incremental_strategy='delete+insert',
        indexes=[
            {'columns': ['payment_id'], 'unique': true},
            {'columns': ['batch_id']},
            {'columns': ['intent_date']},
        ],
    )
}}

with

new_step_events as (

    -- The valid first copies of the funnel's step events of the batches not seen yet. A
    -- deposit credit's step is keyed by its reference_id, the payment_id.
    select
        case event_type
            when 'wallet.credit' then reference_id
            else payment_id
        end as payment_id,
        event_type as step_event_type,
        event_id,
        occurred_at,
        event_date,
        brand_id,
        region,
        player_id,
        method,
        currency,
        amount_minor,
        batch_id

    from (
        {{ valid_first_copies(
            ['payment.intent', 'payment.authorized', 'payment.captured', 'wallet.credit'],
            ['payment_id', 'reference_id', 'reason', 'method', 'currency', 'amount_minor']) }}
    ) as first_copies
    where event_type <> 'wallet.credit' or reason = 'deposit'

),

{% if is_incremental() %}
previous as (

    -- the kept state of the payments this run's events touch
    select * from {{ this }}
    where payment_id in (select payment_id from new_step_events)

),
{% endif %}

candidates as (

    -- every new step event (standing for one event), and the first event of each step each
    -- touched payment already has (standing for the events it was chosen from)
    select
        payment_id, step_event_type, event_id, occurred_at, brand_id, region, player_id,
        method, currency, amount_minor,
        1 as events,
        case when step_event_type = 'payment.intent' then event_date end as latest_intent_date,
        batch_id
    from new_step_events

    {% if is_incremental() %}
    union all

    select
        payment_id, 'payment.intent', intent_event_id, intent_at, brand_id, region, player_id,
        method, currency, amount_minor, intent_events, latest_intent_date, batch_id
    from previous
    where intent_at is not null

    {% for step, column in [('payment.authorized', 'authorized_at'),
                            ('payment.captured', 'captured_at'),
                            ('wallet.credit', 'credited_at')] %}
    union all

    select
        payment_id, '{{ step }}', null, {{ column }}, null, null, null,
        null, null, null, 1, null, batch_id
    from previous
    where {{ column }} is not null
    {% endfor %}
    {% endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by payment_id, step_event_type order by occurred_at, event_id
        ) = 1 as is_first_of_step
    from candidates

),

{% set first_intent = "is_first_of_step and step_event_type = 'payment.intent'" -%}
pivoted as (

    -- one aggregation over the rows sorted by payment_id: the first intent's columns, each
    -- step's first time and what all the payment's events add up to (no joins)
    select
        payment_id,
        {% for column in ['brand_id', 'region', 'player_id', 'method', 'currency',
                          'amount_minor', 'event_id', 'occurred_at'] %}
        max({{ column }}) filter (where {{ first_intent }}) as intent_{{ column }},
        {% endfor %}
        max(latest_intent_date) as latest_intent_date,
        min(occurred_at) filter (where step_event_type = 'payment.authorized') as authorized_at,
        min(occurred_at) filter (where step_event_type = 'payment.captured') as captured_at,
        min(occurred_at) filter (where step_event_type = 'wallet.credit') as credited_at,
        coalesce(sum(events) filter (where step_event_type = 'payment.intent'), 0)
            as intent_events,
        max(batch_id) as batch_id
    from ranked
    group by payment_id

),

final as (

    select
        payment_id,
        intent_brand_id as brand_id,
        intent_region as region,
        intent_player_id as player_id,
        intent_method as method,
        intent_currency as currency,
        intent_amount_minor as amount_minor,
        intent_event_id,
        intent_occurred_at as intent_at,
        (intent_occurred_at at time zone 'UTC')::date as intent_date,
        latest_intent_date,
        authorized_at,
        captured_at,
        credited_at,
        intent_events::bigint as intent_events,
        batch_id

    from pivoted

)

select * from final
